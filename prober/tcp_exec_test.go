package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func TestTCPConnects(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{})
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
			close(accepted)
		}
	}()
	out, output, err := checkTCP(t.Context(), loopback, l.Addr().(*net.TCPAddr).Port, roomyTimeout)
	if out != outSuccess || output != "" || err != nil {
		t.Errorf("got (%v, %q, %v), want success", out, output, err)
	}
	<-accepted
}

func TestTCPRefused(t *testing.T) {
	port := closedPort(t)
	out, output, err := checkTCP(t.Context(), loopback, port, roomyTimeout)
	want := fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", port)
	if out != outFailure || output != want || err != nil {
		t.Errorf("got (%v, %q, %v), want failure %q", out, output, err, want)
	}
}

// A listener whose accept queue is full drops new SYNs, so connect hangs:
// the probe fails at its timeout.
func TestTCPConnectTimesOut(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	// Fill the accept queue (never accepted).
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
		if i > 10 {
			t.Fatal("the accept queue never filled up")
		}
	}
	begin := time.Now()
	out, output, err := checkTCP(t.Context(), loopback, port, testTimeout)
	took := time.Since(begin)
	if out != outFailure || !strings.Contains(output, "i/o timeout") || err != nil {
		t.Errorf("got (%v, %q, %v), want a timeout failure", out, output, err)
	}
	if took < testTimeout || took > testTimeout+2*time.Second {
		t.Errorf("probe took %v, want about %v", took, testTimeout)
	}
}

func fakeExec(code int, out string, err error) ExecFunc {
	return func(context.Context, []string, time.Duration) (int, []byte, error) { return code, []byte(out), err }
}

func TestExecOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exec    ExecFunc
		want    outcome
		output  string
		wantErr bool
	}{
		{"exit 0", fakeExec(0, "fine\n", nil), outSuccess, "fine\n", false},
		{"exit 1", fakeExec(1, "not yet\n", nil), outFailure, "not yet\n", false},
		{"timed out", fakeExec(-1, "", fmt.Errorf("exec: %w", ErrExecTimedOut)), outFailure, `command "cat /tmp/healthy" timed out`, false},
		{"cannot run", fakeExec(-1, "", errors.New("container is stopping")), outUnknown, "", true},
		{"no exec function", nil, outUnknown, "", true},
		{"output cut", fakeExec(1, strings.Repeat("z", 20000), nil), outFailure, strings.Repeat("z", 10240), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, output, err := checkExec(t.Context(), tc.exec, []string{"cat", "/tmp/healthy"}, time.Second)
			if out != tc.want || output != tc.output || (err != nil) != tc.wantErr {
				t.Errorf("got (%v, %q, %v), want (%v, %q, error %v)", out, output, err, tc.want, tc.output, tc.wantErr)
			}
		})
	}
}

// An ExecFunc that ignores its timeout is cut off ExecGrace after it, and
// that counts as a timed-out command.
func TestExecHangingFuncIsCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		out, output, err := checkExec(t.Context(), func(ctx context.Context, _ []string, _ time.Duration) (int, []byte, error) {
			<-ctx.Done()
			return -1, nil, ctx.Err()
		}, []string{"sleep", "1000"}, time.Second)
		if out != outFailure || output != `command "sleep 1000" timed out` || err != nil {
			t.Errorf("got (%v, %q, %v), want a timeout failure", out, output, err)
		}
		if took := time.Since(begin); took != time.Second+ExecGrace {
			t.Errorf("took %v, want %v", took, time.Second+ExecGrace)
		}
	})
}

// End to end through Manager.Start with a real server: the readiness
// transition and a liveness event with the kubelet's wording arrive.
func TestManagerAgainstRealServer(t *testing.T) {
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/live" {
			w.WriteHeader(500)
		}
	})
	trs := make(chan Transition, 10)
	evs := make(chan probeEvent, 10)
	m := NewManager(Options{Listener: listenerFuncs{
		changed: func(x Transition) { trs <- x },
		event:   func(x probeEvent) { evs <- x },
	}})
	c := m.Start(t.Context(), Target{Instance: "demo-0", Container: "c0", Host: host, Started: time.Now()}, Specs{
		Readiness: &service.Probe{HTTPGet: &service.HTTPGetAction{Path: "/ready", Port: port}, PeriodSeconds: 10, TimeoutSeconds: 1},
		Liveness:  &service.Probe{HTTPGet: &service.HTTPGetAction{Path: "/live", Port: port}, PeriodSeconds: 10, TimeoutSeconds: 1},
	})
	defer c.Stop()
	deadline := time.After(10 * time.Second)
	select {
	case tr := <-trs:
		if tr.Kind != Readiness || tr.Result != Success || tr.Previous != Failure {
			t.Errorf("transition %+v, want readiness failure -> success", tr)
		}
	case <-deadline:
		t.Fatal("no readiness transition")
	}
	select {
	case ev := <-evs:
		if ev.Message != "Liveness probe failed: HTTP probe failed with statuscode: 500" || ev.Reason != events.Unhealthy {
			t.Errorf("event %+v", ev)
		}
	case <-deadline:
		t.Fatal("no liveness event")
	}
	if _, ready, _ := c.State(); ready != Success {
		t.Errorf("ready = %v, want success", ready)
	}
}
