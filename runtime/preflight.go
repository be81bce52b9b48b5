package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/client"
)

// Check is one prerequisite of the runtime and whether it is met.
type Check struct {
	Name   string // short name: "root", "containerd", "runc", ...
	OK     bool
	Detail string // what was found
	Fix    string // how to get it, when !OK
	// Optional checks only warn: the runtime may still work.
	Optional bool
}

// cniPlugins are the standard plugins easlocal's network config uses.
var cniPlugins = []string{"bridge", "host-local"}

// Preflight checks what New needs, without starting anything: root,
// containerd (a binary, or a daemon answering), runc, the CNI plugins,
// network namespaces and cgroups. `easlocal doctor` prints the result;
// New fails with the first failed non-optional checks.
func Preflight(ctx context.Context, cfg Config) []Check {
	cfg = cfg.withDefaults()
	var checks []Check
	add := func(c Check) { checks = append(checks, c) }

	if os.Geteuid() == 0 {
		add(Check{Name: "root", OK: true, Detail: "running as root"})
	} else {
		add(Check{Name: "root", Detail: fmt.Sprintf("running as uid %d", os.Geteuid()),
			Fix: "containers, network namespaces and CNI need root: run easlocal with sudo"})
	}

	add(daemonCheck(ctx, cfg))

	if p, err := findBinary("runc"); err == nil {
		add(Check{Name: "runc", OK: true, Detail: p})
	} else {
		add(Check{Name: "runc", Detail: "runc not found", Fix: "install the Debian/Ubuntu package runc (apt-get install runc)"})
	}
	if p, err := findBinary("containerd-shim-runc-v2"); err == nil {
		add(Check{Name: "containerd-shim-runc-v2", OK: true, Detail: p})
	} else {
		add(Check{Name: "containerd-shim-runc-v2", Detail: "shim not found",
			Fix: "install the Debian/Ubuntu package containerd (apt-get install containerd), which ships the shim"})
	}

	if dir, err := cniBinDir(cfg); err == nil {
		add(Check{Name: "cni plugins", OK: true, Detail: dir + " has " + strings.Join(cniPlugins, ", ")})
	} else {
		add(Check{Name: "cni plugins", Detail: err.Error(),
			Fix: "install the Debian/Ubuntu package containernetworking-plugins (apt-get install containernetworking-plugins), or point --cni-bin-dir at the plugins"})
	}

	if _, err := os.Stat("/proc/self/ns/net"); err == nil {
		add(Check{Name: "network namespaces", OK: true, Detail: "kernel supports them; instances get one each in " + NetNSDir})
	} else {
		add(Check{Name: "network namespaces", Detail: "/proc/self/ns/net missing",
			Fix: "use a kernel built with CONFIG_NET_NS"})
	}

	add(cgroupCheck())
	add(subnetCheck(cfg.Subnet, cfg.Bridge))

	if b, err := os.ReadFile("/proc/filesystems"); err == nil && strings.Contains(string(b), "overlay") {
		add(Check{Name: "overlayfs", OK: true, Detail: "kernel supports overlay", Optional: true})
	} else {
		add(Check{Name: "overlayfs", Optional: true, Detail: "overlay not listed in /proc/filesystems",
			Fix: "load the module (modprobe overlay); image unpacking uses the overlayfs snapshotter"})
	}
	if p, err := findBinary("nft"); err == nil {
		add(Check{Name: "nftables", OK: true, Detail: p + " (network faults)", Optional: true})
	} else {
		add(Check{Name: "nftables", Optional: true, Detail: "nft not found: `easlocal fault` cannot add network faults",
			Fix: "install the Debian/Ubuntu package nftables (apt-get install nftables)"})
	}
	return checks
}

// daemonCheck reports which containerd easlocal would use, without
// starting the private one.
func daemonCheck(ctx context.Context, cfg Config) Check {
	candidates := []string{DefaultAddress, cfg.PrivateAddress()}
	if cfg.Address == cfg.PrivateAddress() {
		candidates = candidates[1:] // the private one, started on demand
	} else if cfg.Address != "" {
		c, err := dial(ctx, cfg.Address)
		if err != nil {
			return Check{Name: "containerd", Detail: err.Error(), Fix: "start containerd at that address, or leave --containerd-address unset"}
		}
		defer c.Close()
		return Check{Name: "containerd", OK: true, Detail: "answering at " + cfg.Address + serverVersion(ctx, c)}
	}
	for _, addr := range candidates {
		if c, err := dial(ctx, addr); err == nil {
			defer c.Close()
			what := "system containerd"
			if addr != DefaultAddress {
				what = "easlocal's private containerd"
			}
			return Check{Name: "containerd", OK: true, Detail: what + " answering at " + addr + serverVersion(ctx, c)}
		}
	}
	if p, err := findBinary("containerd"); err == nil {
		return Check{Name: "containerd", OK: true, Detail: fmt.Sprintf("%s installed, no daemon running: easlocal starts its own at %s on first use", p, cfg.PrivateAddress())}
	}
	return Check{Name: "containerd", Detail: "no daemon answers at " + DefaultAddress + " and no containerd binary is installed",
		Fix: "install the Debian/Ubuntu package containerd (apt-get install containerd)"}
}

func serverVersion(ctx context.Context, c *client.Client) string {
	v, err := c.Version(ctx)
	if err != nil {
		return ""
	}
	return " (version " + v.Version + ")"
}

// cniBinDir returns the first directory holding every plugin easlocal
// uses: cfg.CNIBinDir when set, else DefaultCNIBinDirs.
func cniBinDir(cfg Config) (string, error) {
	dirs := DefaultCNIBinDirs
	if cfg.CNIBinDir != "" {
		dirs = []string{cfg.CNIBinDir}
	}
	var missing []string
	for _, d := range dirs {
		missing = missing[:0]
		for _, p := range cniPlugins {
			if fi, err := os.Stat(filepath.Join(d, p)); err != nil || fi.IsDir() {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return d, nil
		}
	}
	return "", fmt.Errorf("CNI plugins %s not found in %s", strings.Join(missing, ", "), strings.Join(dirs, " or "))
}

// subnetCheck fails when another interface already has an address in
// subnet: instance IPs would then be routed there instead of to the
// bridge (e.g. a VPN or another container engine using the same range).
// The bridge itself holds the subnet's gateway address.
func subnetCheck(subnet netip.Prefix, bridge string) Check {
	ifs, err := net.Interfaces()
	if err != nil {
		return Check{Name: "subnet", Optional: true, Detail: "cannot list interfaces: " + err.Error()}
	}
	for _, ifc := range ifs {
		if ifc.Name == bridge {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			addr, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			if p := netip.PrefixFrom(addr.Unmap(), ones).Masked(); p.Overlaps(subnet) {
				return Check{Name: "subnet", Detail: fmt.Sprintf("%s overlaps %s on interface %s", subnet, p, ifc.Name),
					Fix: "choose a free range with --subnet, e.g. 10.214.0.0/16"}
			}
		}
	}
	return Check{Name: "subnet", OK: true, Detail: subnet.String() + " is free (bridge " + bridge + ")"}
}

// cgroupCheck needs the memory, cpu and freezer controllers (limits, OOM
// reports, pause), on cgroup v1 or v2.
func cgroupCheck() Check {
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		have := strings.Fields(string(b))
		var missing []string
		for _, want := range []string{"memory", "cpu"} {
			if !contains(have, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			return Check{Name: "cgroups", Detail: "cgroup v2 without " + strings.Join(missing, ", "),
				Fix: "enable the controllers (kernel cmdline cgroup_enable=memory)"}
		}
		return Check{Name: "cgroups", OK: true, Detail: "cgroup v2 with memory, cpu"}
	}
	var missing []string
	for _, c := range []string{"memory", "cpu", "freezer"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return Check{Name: "cgroups", Detail: "cgroup v1 without " + strings.Join(missing, ", ") + " under /sys/fs/cgroup",
			Fix: "mount the cgroup controllers (e.g. install cgroupfs-mount) or boot with cgroup v2"}
	}
	return Check{Name: "cgroups", OK: true, Detail: "cgroup v1 with memory, cpu, freezer"}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// preflightError turns the failed required checks into one error.
func preflightError(checks []Check) error {
	var errs []error
	for _, c := range checks {
		if !c.OK && !c.Optional {
			errs = append(errs, fmt.Errorf("%s: %s: %s", c.Name, c.Detail, c.Fix))
		}
	}
	return errors.Join(errs...)
}
