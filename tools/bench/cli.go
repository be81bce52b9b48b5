package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// easlocal runs the easlocal binary. Every call has its own time bound.
type easlocal struct {
	bin string
	// env is added to easlocal's environment (e.g. GOMAXPROCS=1).
	env []string
	// up lists the services this harness started, so cleanup can take
	// down whatever is still running.
	up map[string]bool
}

func (e *easlocal) run(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	if len(e.env) > 0 {
		cmd.Env = append(os.Environ(), e.env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("easlocal %s: %w: %s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// upDetached runs `easlocal up -d` and returns once every instance is ready.
func (e *easlocal) upDetached(ctx context.Context, file string, n int, listen string, extra ...string) error {
	args := append([]string{"up", "-d", "-n", strconv.Itoa(n), "--listen", listen, "--wait-timeout", "4m"}, extra...)
	args = append(args, file)
	name := serviceName(file)
	e.up[name] = true
	_, err := e.run(ctx, 5*time.Minute, args...)
	return err
}

// down stops a service; it uses a fresh context so it also runs after the
// harness was interrupted.
func (e *easlocal) down(name string) error {
	_, err := e.run(context.Background(), 4*time.Minute, "down", name, "--timeout", "3m")
	if err == nil {
		delete(e.up, name)
	}
	return err
}

func (e *easlocal) downAll() {
	for name := range e.up {
		if err := e.down(name); err != nil {
			logf("cleanup: %v", err)
		}
	}
}

func (e *easlocal) ps(ctx context.Context, name string) (admin.ServiceStatus, error) {
	var st admin.ServiceStatus
	out, err := e.run(ctx, 30*time.Second, "ps", "--json", name)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("easlocal ps --json: %w: %s", err, out)
	}
	return st, nil
}

func (e *easlocal) endpoints(ctx context.Context, name string) ([]admin.Endpoint, error) {
	var eps []admin.Endpoint
	out, err := e.run(ctx, 30*time.Second, "endpoints", "--json", name)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, &eps); err != nil {
		return nil, fmt.Errorf("easlocal endpoints --json: %w: %s", err, out)
	}
	return eps, nil
}

func (e *easlocal) events(ctx context.Context, name string) ([]admin.Event, error) {
	out, err := e.run(ctx, 30*time.Second, "events", "--json", name)
	if err != nil {
		return nil, err
	}
	var evs []admin.Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ev admin.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("easlocal events --json: %w: %s", err, sc.Bytes())
		}
		evs = append(evs, ev)
	}
	return evs, sc.Err()
}

// pid is the process serving the service, from the registry.
func (e *easlocal) pid(name string) (int, error) {
	ent, err := admin.Registry{}.Lookup(name)
	if err != nil {
		return 0, err
	}
	return ent.PID, nil
}

func (e *easlocal) gatewayAddr(name string) (string, error) {
	ent, err := admin.Registry{}.Lookup(name)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(ent.GatewayURL, "http://"), nil
}

func serviceName(file string) string {
	// <dir>/<name>/service.json (writeService)
	parts := strings.Split(file, string(os.PathSeparator))
	return parts[len(parts)-2]
}

// waitEndpoints polls until the service has want ready endpoints.
func (e *easlocal) waitEndpoints(ctx context.Context, name string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		eps, err := e.endpoints(ctx, name)
		if err == nil && len(eps) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d endpoints after %v, want %d (%v)", name, len(eps), timeout, want, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}
