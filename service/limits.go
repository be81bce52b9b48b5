package service

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"
)

// Bounds of the numbers the runtime converts. A value past one would wrap
// or be refused when converted, and the container would run with a limit
// nobody asked for (a memory of 2^44+1 MB became 1 MiB), so validation
// refuses it and names the field.
const (
	// maxMemoryMB: MB × 2^20 is runc's int64 memory limit in bytes.
	maxMemoryMB = math.MaxInt64 >> 20
	// maxCPU: cores × the 100 ms CFS period must stay within the kernel's
	// largest CFS quota, 2^44−1 µs (kernel/sched/core.c max_cfs_runtime).
	maxCPU = ((1 << 44) - 1) / 100000
	// maxGB: GB × 2^30 is a tmpfs size in bytes (int64).
	maxGB = math.MaxInt64 >> 30
	// maxKeepaliveMS: milliseconds × 10^6 is a time.Duration (int64 ns).
	maxKeepaliveMS = math.MaxInt64 / int64(time.Millisecond)
)

// DefaultMaxInstances is how many instances easlocal starts on one
// machine unless --max-instances raises it. Each instance is a network
// namespace, a veth on easlocal's bridge, one containerd shim per
// container (about 10-20 MB each) and its probes: 64 of them is already
// more than a laptop runs comfortably and far more than a local test
// needs, while a count meant for EAS's cluster (or a typo like 100000)
// would take the machine down before Ctrl-C could stop it.
const DefaultMaxInstances = 64

// CheckInstances refuses an instance count above limit (the value of
// --max-instances; 0 or less means DefaultMaxInstances). fromFlag says
// the count came from --instances rather than metadata.instance.
func CheckInstances(n, limit int, fromFlag bool) error {
	if limit <= 0 {
		limit = DefaultMaxInstances
	}
	if n <= limit {
		return nil
	}
	msg := fmt.Sprintf("%d instances are more than easlocal starts on one machine (at most %d): each one is a network namespace and containerd shims on this machine; run fewer (metadata.instance, or --instances N), or raise the limit with --max-instances N", n, limit)
	if fromFlag {
		return errors.New("--instances: " + msg)
	}
	return &ValidationError{Errors: []Diagnostic{{Path: "metadata.instance", Message: msg}}}
}

// bound reports an error when a value given at p exceeds max.
func (v *validator) bound(p string, val, max int64, what string) bool {
	if val <= max {
		return true
	}
	v.diags.errorf(p, "%d is more than %s can hold (at most %d); use a realistic value", val, what, max)
	return false
}

// reservedMountPaths are the container paths the runtime itself provides.
var reservedMountPaths = []string{"/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname"}

// MountPathProblem says what is wrong with a container mount path ("" if
// nothing): it must be absolute and clean, not / and not a path the
// runtime needs (/proc, /sys, /dev except /dev/shm, /etc/hosts, ...).
// --mount checks its MOUNT_PATH with it too.
func MountPathProblem(p string) string {
	switch {
	case p == "":
		return "is empty; give the directory inside the containers, e.g. \"/models\""
	case !path.IsAbs(p):
		return fmt.Sprintf("%q is not an absolute path; write it from the root, e.g. \"/models\"", p)
	}
	clean := path.Clean(p)
	if slices.Contains(strings.Split(p, "/"), "..") {
		return fmt.Sprintf("%q has \"..\", which climbs out of the directory it names (here to %q); write the directory inside the containers without \"..\", e.g. \"/models\"", p, clean)
	}
	if clean != strings.TrimSuffix(p, "/") && clean != p {
		return fmt.Sprintf("%q is not a clean path (it has \".\" or \"//\"); write %q", p, clean)
	}
	if clean == "/" {
		return "\"/\" would hide the image's whole file system; mount the storage at a directory such as \"/models\""
	}
	if clean == "/dev/shm" {
		return ""
	}
	for _, r := range reservedMountPaths {
		if inside(clean, r) {
			msg := fmt.Sprintf("%q is where the container runtime provides %s itself; choose another directory", p, r)
			if r == "/dev" {
				msg += " (under /dev only /dev/shm can be mounted)"
			}
			return msg
		}
	}
	return ""
}

// inside reports whether a is b or below it (both clean).
func inside(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/")
}
