package serve

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// CheckCounts checks --instances (nil: not given) and the crash-loop
// back-off of up, run and test.
func CheckCounts(instances *int, backoffInitial, backoffMax time.Duration) error {
	if instances != nil && *instances < 0 {
		return fmt.Errorf("--instances %d: give 0 or more", *instances)
	}
	if backoffInitial <= 0 || backoffMax < backoffInitial {
		return errors.New("--backoff-initial must be positive and --backoff-max at least as long")
	}
	return nil
}

// ParseMounts reads --mount MOUNT_PATH=HOST_DIR[:rw|:ro], and says which
// host directories deserve a second look (runtime.HostMountWarnings).
func ParseMounts(specs []string) (map[string]string, []string, error) {
	if len(specs) == 0 {
		return nil, nil, nil
	}
	var warnings []string
	m := make(map[string]string, len(specs))
	for _, s := range specs {
		path, dir, ok := strings.Cut(s, "=")
		if !ok || !strings.HasPrefix(path, "/") || dir == "" {
			return nil, nil, fmt.Errorf("--mount %q: write MOUNT_PATH=HOST_DIR, e.g. --mount /models=./models", s)
		}
		if msg := service.MountPathProblem(path); msg != "" {
			return nil, nil, fmt.Errorf("--mount %q: MOUNT_PATH %s", s, msg)
		}
		mode := ""
		if i := strings.LastIndex(dir, ":"); i > 0 && (dir[i+1:] == "rw" || dir[i+1:] == "ro") {
			dir, mode = dir[:i], dir[i:]
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("--mount %q: %w", s, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("--mount %q: %s is not a directory", s, abs)
		}
		warnings = append(warnings, runtime.HostMountWarnings(abs)...)
		m[path] = abs + mode
	}
	return m, warnings, nil
}

// AdminListen checks --admin-listen. An address other machines can reach
// is allowed only because the user wrote it, and is warned about on warn:
// /metrics answers there without a token.
func AdminListen(addr string, warn io.Writer) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--admin-listen %q: write HOST:PORT, e.g. 127.0.0.1:9101", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("--admin-listen %q: %q is not a port; write HOST:PORT, e.g. 127.0.0.1:9101", addr, port)
	}
	if !loopbackHost(host) {
		fmt.Fprintf(warn, "warning: --admin-listen %s is not a loopback address: other machines can reach the control API, and GET /metrics answers them without a token (everything else needs the token)\n", addr)
	}
	return addr, nil
}

// loopbackHost reports whether host names only this machine: a loopback
// IP or "localhost". An empty host or 0.0.0.0 means every interface.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
