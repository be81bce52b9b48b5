package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/service"
)

// outcome is what one probe run says, before thresholds (the kubelet's
// probe.Result).
type outcome int

const (
	outSuccess outcome = iota
	outWarning         // success, but worth a ProbeWarning event (final 3xx)
	outFailure
	outUnknown // the probe could not be run
)

const (
	// maxProbeTries is how often a probe that could not be run is tried
	// before the attempt is discarded (the kubelet's maxProbeRetries).
	maxProbeTries = 3
	// maxOutput is how much of a body or command output is kept (10 KiB,
	// as the kubelet).
	maxOutput = 10 << 10
	// maxRedirects bounds the requests of one http_get exchange.
	maxRedirects = 10
)

// checkFunc runs one probe attempt. err != nil means "could not run".
type checkFunc func(ctx context.Context, p *service.Probe, t Target, timeout time.Duration) (outcome, string, error)

// probeWithTries runs check up to maxProbeTries times while it cannot be
// run, like the kubelet's runProbeWithRetries (no pause between tries).
func probeWithTries(ctx context.Context, check checkFunc, p *service.Probe, t Target, timeout time.Duration) (out outcome, output string, err error) {
	for range maxProbeTries {
		out, output, err = check(ctx, p, t, timeout)
		if err == nil || ctx.Err() != nil {
			return out, output, err
		}
	}
	return out, output, err
}

// check runs one attempt of whichever action p has, in the kubelet's order.
func (m *Manager) check(ctx context.Context, p *service.Probe, t Target, timeout time.Duration) (outcome, string, error) {
	switch {
	case p.Exec != nil:
		return checkExec(ctx, t.Exec, p.Exec.Command, timeout)
	case p.HTTPGet != nil:
		return m.checkHTTP(ctx, t.Host, p.HTTPGet.Port, p.HTTPGet.Path, timeout)
	case p.TCPSocket != nil:
		return checkTCP(ctx, t.Host, p.TCPSocket.Port, timeout)
	}
	return outUnknown, "", errors.New("the probe has no http_get, tcp_socket or exec action")
}

func hostPort(host netip.Addr, port int) (string, error) {
	if !host.IsValid() {
		return "", errors.New("the instance has no IP address to probe")
	}
	if port <= 0 || port > 65535 {
		return "", fmt.Errorf("invalid port number: %d", port)
	}
	return net.JoinHostPort(host.String(), strconv.Itoa(port)), nil
}

// probeURL is http://host:port/path.
func probeURL(host netip.Addr, port int, path string) (*url.URL, error) {
	addr, err := hostPort(host, port)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(path)
	if err != nil {
		// Too late to reject the path: send it as it is, as the kubelet does.
		u = &url.URL{Path: path}
	}
	u.Scheme, u.Host = "http", addr
	return u, nil
}

func (m *Manager) checkHTTP(ctx context.Context, host netip.Addr, port int, path string, timeout time.Duration) (outcome, string, error) {
	u, err := probeURL(host, port, path)
	if err != nil {
		return outUnknown, "", err
	}
	code, body, err := m.get(ctx, u, time.Now().Add(timeout))
	var be errBody
	switch {
	case errors.As(err, &be):
		// The kubelet treats a failed body read as "could not run"
		// (retried, then discarded), not as a failure.
		return outUnknown, "", be
	case err != nil:
		return outFailure, err.Error(), nil
	}
	switch {
	case code >= 300 && code < 400:
		return outWarning, "Probe terminated redirects, Response body: " + string(body), nil
	case code >= 200 && code < 300:
		return outSuccess, string(body), nil
	}
	// Like the kubelet, never put the body in a failure message.
	return outFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code), nil
}

func checkTCP(ctx context.Context, host netip.Addr, port int, timeout time.Duration) (outcome, string, error) {
	if _, err := hostPort(host, port); err != nil {
		return outUnknown, "", err
	}
	conn, err := dial(ctx, host.String(), strconv.Itoa(port), time.Now().Add(timeout))
	if err != nil {
		return outFailure, err.Error(), nil
	}
	_ = conn.Close()
	return outSuccess, "", nil
}

func checkExec(ctx context.Context, exec ExecFunc, args []string, timeout time.Duration) (outcome, string, error) {
	if exec == nil {
		return outUnknown, "", errors.New("exec probes are not supported for this container")
	}
	if len(args) == 0 {
		return outUnknown, "", errors.New("the exec probe has an empty command")
	}
	ctx2, cancel := context.WithTimeout(ctx, timeout+ExecGrace)
	defer cancel()
	code, out, err := exec(ctx2, args, timeout)
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	if err != nil {
		if errors.Is(err, ErrExecTimedOut) || (ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)) {
			return outFailure, fmt.Sprintf("command %q timed out", strings.Join(args, " ")), nil
		}
		return outUnknown, "", err
	}
	if code != 0 {
		return outFailure, string(out), nil
	}
	return outSuccess, string(out), nil
}
