package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// floodingUpstream accepts connections, reads each request's head and
// then writes head, followed by fill over and over, until the gateway
// closes the connection or limit bytes were written. It reports, per
// connection, how many bytes it wrote and whether the gateway closed
// the connection (a write failed) before the limit.
type floodResult struct {
	n      int64
	closed bool
}

func floodingUpstream(t *testing.T, head, fill string, limit int64) (endpoints.Endpoint, <-chan floodResult) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	res := make(chan floodResult, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				var r floodResult
				chunk := []byte(strings.Repeat(fill, (32<<10)/len(fill)))
				n, err := io.WriteString(c, head)
				r.n += int64(n)
				for err == nil && r.n < limit {
					n, err = c.Write(chunk)
					r.n += int64(n)
				}
				r.closed = err != nil
				res <- r
			}()
		}
	}()
	return endpointOf(t, "http://"+ln.Addr().String()), res
}

// An instance whose answer head never ends (one endless header line,
// endless header lines, or endless 1xx interim answers) gets the client
// a prompt 502; the gateway reads about 1 MiB of it (as much as it
// accepts from clients), holds no more than that in memory, and closes
// the connection to the instance.
func TestEndlessAnswerHead(t *testing.T) {
	const limit = 64 << 20 // the flood ends here if nothing stops it
	for _, tc := range []struct{ name, head, fill string }{
		{"one endless line", "HTTP/1.1 200 OK\r\nX-Flood: ", "a"},
		{"endless lines", "HTTP/1.1 200 OK\r\n", "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaa\r\n"},
		{"endless interim answers", "", "HTTP/1.1 100 Continue\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, res := floodingUpstream(t, tc.head, tc.fill, limit)
			set := endpoints.New()
			set.Set("i0", ep)
			gw := startGateway(t, Options{Endpoints: set})
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			code, body := get(t, gw.URL+"/api/predict/svc/x")
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			var r floodResult
			select {
			case r = <-res:
			case <-time.After(10 * time.Second):
				t.Fatal("the instance was still writing its answer head 10 s after the client got its answer")
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d after %v; the instance wrote %d KiB; the gateway allocated %d KiB", code, took, r.n>>10, alloc>>10)
			if code != http.StatusBadGateway {
				t.Errorf("got %d %q, want 502", code, body)
			}
			if took > 5*time.Second {
				t.Errorf("the 502 took %v", took)
			}
			if !r.closed {
				t.Errorf("the gateway read all %d MiB of the answer head instead of closing the connection", r.n>>20)
			}
			// 1 MiB read, plus what loopback socket buffers soak up.
			if r.n > 32<<20 {
				t.Errorf("the instance could write %d MiB of answer head", r.n>>20)
			}
			if alloc > 32<<20 {
				t.Errorf("the gateway allocated %d MiB for one answer head", alloc>>20)
			}
		})
	}
}
