package runtime

import (
	"fmt"
	"os"
	"path/filepath"
)

// sensitiveHostDirs are host directories whose content a container should
// not be handed read-write: the host's configuration, its runtime sockets
// and pid files, and the state of containerd and easlocal themselves.
var sensitiveHostDirs = []string{"/etc", "/run", "/var/run", "/var/lib/containerd", DefaultStateDir}

// HostMountWarnings returns one sentence per reason binding hostPath into
// a container deserves a second look (`--mount HOST=CTR` mounts are
// read-write): the host's root, a path under a sensitive directory, or a
// socket (a container that can reach containerd's socket controls the
// host). Symbolic links are followed first, so a link in the current
// directory that points into /etc is seen as /etc. It only warns: a
// missing path is StartContainer's error to report.
func HostMountWarnings(hostPath string) []string {
	abs, err := filepath.Abs(hostPath)
	if err != nil {
		return nil
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	var out []string
	if abs == "/" {
		out = append(out, fmt.Sprintf("host path %s is the host's root directory: the container can change any file on the host", hostPath))
	}
	for _, d := range sensitiveHostDirs {
		if abs == d || isUnder(abs, d) {
			out = append(out, fmt.Sprintf("host path %s is %s, which holds the host's configuration, sockets or container state: the container can change them", hostPath, describeUnder(abs, d)))
			break
		}
	}
	if fi, err := os.Stat(abs); err == nil && fi.Mode()&os.ModeSocket != 0 {
		out = append(out, fmt.Sprintf("host path %s is a socket: the container can talk to the service behind it (a container runtime's socket gives it the host)", hostPath))
	}
	return out
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}

func describeUnder(p, dir string) string {
	if p == dir {
		return dir
	}
	return "under " + dir
}
