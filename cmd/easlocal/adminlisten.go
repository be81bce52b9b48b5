package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/urfave/cli/v2"
)

// defaultAdminListen keeps the control API on loopback, on a free port.
const defaultAdminListen = "127.0.0.1:0"

var adminListenFlag = &cli.StringFlag{
	Name:  "admin-listen",
	Value: defaultAdminListen,
	Usage: "the control API's `ADDR` (ps, down, the dashboard, GET /metrics); a fixed one such as 127.0.0.1:9101 lets Prometheus scrape /metrics, no token needed (docs/prometheus.md)",
}

// adminListen reads --admin-listen. An address other machines can reach
// is allowed only because the user wrote it, and is warned about: /metrics
// answers there without a token.
func adminListen(c *cli.Context, warn io.Writer) (string, error) {
	addr := c.String("admin-listen")
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
