//go:build linux && !race

package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The race detector's instrumentation allocates on its own, so these run
// without it (make test runs them so).

// Parsing a head into an arena that has grown allocates nothing.
func TestHeadArenaAllocatesNothing(t *testing.T) {
	var a headArena
	h := http.Header{}
	var r http.Request
	raw := []byte("GET /api/predict/svc/x?q=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\nX-A: 1\r\n\r\n")
	parseRequestHead(raw, h, &r, &a)
	if n := testing.AllocsPerRun(100, func() { parseRequestHead(raw, h, &r, &a) }); n != 0 {
		t.Errorf("parsing a head into a grown arena allocates %v times, want 0", n)
	}
}

// A keep-alive request the event loop relays allocates nothing in the
// whole process: client, loop and instance here are all written to reuse
// their buffers, so what the count sees is the loop's.
func TestLoopRequestAllocatesNothing(t *testing.T) {
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	ep := rawUpstream(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		n := 0
		for {
			k, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += k
			if bytes.HasSuffix(buf[:n], blankLine) {
				n = 0
				if _, err := c.Write(answer); err != nil {
					return
				}
			}
		}
	})
	c := dialGateway(t, ep, 30*time.Second)
	req := []byte("GET /api/predict/svc/x HTTP/1.1\r\nHost: gw\r\nUser-Agent: t\r\n\r\n")
	buf := make([]byte, 4096)
	var failed error
	one := func() {
		if _, err := c.Write(req); err != nil {
			failed = err
			return
		}
		n := 0
		for {
			k, err := c.Read(buf[n:])
			if err != nil {
				failed = err
				return
			}
			n += k
			if end := bytes.Index(buf[:n], blankLine); end >= 0 {
				if i := bytes.Index(buf[:end], []byte("Content-Length: ")); i >= 0 {
					j := i + len("Content-Length: ")
					l, _ := strconv.Atoi(string(buf[j : j+bytes.IndexByte(buf[j:], '\r')]))
					if n >= end+len(blankLine)+l {
						if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) || !bytes.HasSuffix(buf[:n], []byte("hello")) {
							failed = io.ErrUnexpectedEOF
						}
						return
					}
				}
			}
		}
	}
	for range 10 { // the loop's buffers and pools grow
		one()
	}
	n := testing.AllocsPerRun(500, one)
	if failed != nil {
		t.Fatal(failed)
	}
	if n != 0 {
		t.Errorf("a relayed request allocates %v times, want 0", n)
	}
}
