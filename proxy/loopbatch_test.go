//go:build linux

package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/endpoints"
)

// arrival is a request as an instance received it: which instance, and
// the kernel's receive time of its bytes (SO_TIMESTAMPNS), which on
// loopback is taken inside the gateway's write.
type arrival struct {
	instance string
	at       time.Time
}

// stampedUpstream answers every request with 200 and records when each
// arrived.
func stampedUpstream(t *testing.T, name string, mu *sync.Mutex, got *[]arrival) endpoints.Endpoint {
	return rawUpstream(t, func(c net.Conn) {
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return
		}
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) })
		buf, oob := make([]byte, 4096), make([]byte, 256)
		var pending []byte
		for {
			var n, oobn int
			var rerr error
			if err := rc.Read(func(fd uintptr) bool {
				n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
				return rerr != unix.EAGAIN
			}); err != nil || rerr != nil || n == 0 {
				return
			}
			at := time.Time{}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
					ts := *(*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
					at = time.Unix(ts.Unix())
				}
			}
			pending = append(pending, buf[:n]...)
			for {
				i := strings.Index(string(pending), "\r\n\r\n")
				if i < 0 {
					break
				}
				pending = pending[i+4:]
				mu.Lock()
				*got = append(*got, arrival{name, at})
				mu.Unlock()
				if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")); err != nil {
					return
				}
			}
		}
	})
}

// step waits for one batch of the loop's events and serves it, as run does.
func step(l *evLoop, timeout int) {
	events := make([]unix.EpollEvent, 128)
	n, _ := unix.EpollWait(l.ep, events, timeout)
	l.now = time.Now()
	l.handle(events[:max(n, 0)], nil)
	l.expire()
}

// TestLoopWritesAfterBatch: the requests a loop reads in one batch reach
// the instances after the batch, grouped by instance, not one by one as
// they are read (round robin would interleave them).
func TestLoopWritesAfterBatch(t *testing.T) {
	const nInst, nClients = 3, 6
	var mu sync.Mutex
	var got []arrival
	set := endpoints.New()
	for i := range nInst {
		name := fmt.Sprintf("i%d", i)
		set.Set(name, stampedUpstream(t, name, &mu, &got))
	}
	g := New(Options{Service: "svc", Endpoints: set})
	t.Cleanup(g.CloseIdle)

	// The loop is driven by this goroutine (step), not by run.
	ls := &loops{srv: NewServer(g, zerolog.Nop(), WithoutEventLoop()), gw: g}
	l, err := newEvLoop(ls)
	if err != nil {
		t.Fatal(err)
	}
	ls.all = []*evLoop{l}
	t.Cleanup(func() {
		l.closeEverything()
		l.closeFDs()
	})

	ln := listenLoopback(t)
	clients := make([]net.Conn, nClients)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		clients[i] = c
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if !ls.adopt(sc) {
			t.Fatal("the loop did not take the connection")
		}
	}

	// round sends one request on every client and serves the loop until
	// every answer is read; collect waits for all of them before serving
	// any, so that they are one batch.
	round := func(collect bool) {
		t.Helper()
		for _, c := range clients {
			if _, err := c.Write([]byte("GET /api/predict/svc/ HTTP/1.1\r\nHost: gw\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		if collect {
			batch(t, l, nClients)
		}
		done := make(chan error, nClients)
		for _, c := range clients {
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				done <- err
			}()
		}
		for answered := 0; answered < nClients; {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				answered++
			default:
				step(l, 5)
			}
		}
	}
	round(false) // the loop dials the instances; their connections are pooled after
	mu.Lock()
	got = got[:0]
	mu.Unlock()
	round(true)

	mu.Lock()
	defer mu.Unlock()
	if len(got) != nClients {
		t.Fatalf("the instances received %d requests, want %d", len(got), nClients)
	}
	sort.SliceStable(got, func(i, j int) bool { return got[i].at.Before(got[j].at) })
	var order []string
	for _, a := range got {
		if a.at.IsZero() {
			t.Fatal("no receive timestamp")
		}
		order = append(order, a.instance)
	}
	// Grouped: once the writes leave an instance, they do not come back to it.
	var left []string
	for i, name := range order {
		if i > 0 && name != order[i-1] {
			if slices.Contains(left, name) {
				t.Fatalf("the requests of one batch reached the instances in the order %v, want them grouped by instance", order)
			}
			left = append(left, order[i-1])
		}
	}
}

// batch waits until the loop's epoll set has reported requests on n
// client connections and serves all its events as one batch.
func batch(t *testing.T, l *evLoop, n int) {
	t.Helper()
	var evs []unix.EpollEvent
	seen := map[int32]bool{}
	buf := make([]unix.EpollEvent, 128)
	for deadline := time.Now().Add(5 * time.Second); len(seen) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("requests reached %d of %d client connections", len(seen), n)
		}
		got, _ := unix.EpollWait(l.ep, buf, 10)
		for _, ev := range buf[:max(got, 0)] {
			evs = append(evs, ev)
			if _, ok := l.fds[ev.Fd].(*cconn); ok {
				seen[ev.Fd] = true
			}
		}
	}
	l.now = time.Now()
	l.handle(evs, nil)
	l.expire()
}
