package serve

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// EnvPprof names a loopback address (e.g. 127.0.0.1:6060) on which the
// process that runs the service serves Go's profiles (net/http/pprof):
// for measuring where easlocal's CPU goes, see docs/benchmarks.md. It
// is a listener of its own, never part of the control API, and it
// refuses any address that is not loopback: profiles reveal memory.
const EnvPprof = "EASLOCAL_PPROF"

// startPprof serves /debug/pprof/ on addr until the process exits and
// returns the address it listens on (addr may end in :0).
func startPprof(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s=%q: use a loopback host:port, e.g. 127.0.0.1:6060", EnvPprof, addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%s=%q: profiles are served on loopback only; use e.g. 127.0.0.1:6060", EnvPprof, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvPprof, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.Serve(ln, mux); err != nil && !errors.Is(err, net.ErrClosed) {
			fmt.Fprintf(os.Stderr, "easlocal: %s: %v\n", EnvPprof, err)
		}
	}()
	return ln.Addr().String(), nil
}
