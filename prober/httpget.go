package prober

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The http_get client. It makes the exchange that net/http's Client
// makes for the kubelet (a Transport without keep-alive, no proxy, no
// gzip, Client.Timeout over everything, the kubelet's CheckRedirect):
// the same request bytes, redirects, 1xx handling and messages. It writes
// the request and reads the response on the connection itself, in the
// probing goroutine. A Transport starts two goroutines per connection and
// allocates about 19 KB per probe; with a new connection per probe (as
// the kubelet makes) that was most of easlocal's CPU at rest.

// readers holds the bufio.Readers responses are read with.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}

// timeoutSuffix is what http.Client adds to an error once Client.Timeout
// has passed.
const timeoutSuffix = " (Client.Timeout exceeded while awaiting headers)"

// errBody marks an error reading the final response's body.
type errBody struct{ err error }

func (e errBody) Error() string { return "reading the response body: " + e.err.Error() }
func (e errBody) Unwrap() error { return e.err }

// get follows the requests for u as http.Client.Do does with the
// kubelet's redirect check (the same host name, any port, while fewer
// than maxRedirects requests were made; a redirect elsewhere is
// final), all before deadline. It
// returns the final status code and at most maxOutput bytes of its body;
// an error reading that body is an errBody, any other error is the
// *url.Error the Client would return.
func (m *Manager) get(ctx context.Context, u *url.URL, deadline time.Time) (int, []byte, error) {
	first, referer := u, ""
	for n := 1; ; n++ {
		ex, err := m.roundTrip(ctx, u, referer, deadline)
		if err != nil {
			return 0, nil, &url.Error{Op: "Get", URL: stripPassword(u), Err: err}
		}
		code := ex.res.StatusCode
		loc := ex.res.Header.Get("Location")
		if !redirects(code) || loc == "" {
			return ex.finish(code)
		}
		next, err := u.Parse(loc)
		if err != nil {
			ex.close()
			return 0, nil, &url.Error{Op: "Get", URL: stripPassword(u), Err: fmt.Errorf("failed to parse Location header %q: %v", loc, err)}
		}
		if next.Hostname() != first.Hostname() {
			return ex.finish(code) // http.ErrUseLastResponse: the 3xx is final
		}
		ex.close()
		if n >= maxRedirects {
			return 0, nil, &url.Error{Op: "Get", URL: loc, Err: fmt.Errorf("stopped after %d redirects", maxRedirects)}
		}
		referer = ""
		if u.Scheme != "https" || next.Scheme == "https" {
			referer = u.String()
			if u.User != nil {
				referer = strings.Replace(referer, u.User.String()+"@", "", 1)
			}
		}
		u = next
	}
}

// stripPassword is the URL as the Client's errors show it.
func stripPassword(u *url.URL) string {
	if _, ok := u.User.Password(); ok {
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return u.String()
}

// redirects reports whether http.Client follows a response with code
// (given a Location).
func redirects(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// exchange is one request's response, still on its connection.
type exchange struct {
	conn net.Conn
	br   *bufio.Reader
	stop func() bool // ends the ctx watch
	res  *http.Response
}

// finish reads at most maxOutput bytes of the body and closes.
func (ex *exchange) finish(code int) (int, []byte, error) {
	defer ex.close()
	body, err := io.ReadAll(io.LimitReader(ex.res.Body, maxOutput))
	if err != nil {
		return 0, nil, errBody{err}
	}
	return code, body, nil
}

func (ex *exchange) close() {
	ex.stop()
	_ = ex.conn.Close()
	ex.br.Reset(nil)
	readers.Put(ex.br)
}

// roundTrip dials u's host, writes the GET and reads the response head,
// skipping 1xx answers other than 101, as the Transport does.
func (m *Manager) roundTrip(ctx context.Context, u *url.URL, referer string, deadline time.Time) (*exchange, error) {
	port := u.Port()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("unsupported protocol scheme %q", u.Scheme)
	case port == "" && u.Scheme == "http":
		port = "80"
	case port == "":
		port = "443"
	}
	tc, err := dial(ctx, u.Hostname(), port, deadline)
	if err != nil {
		return nil, ctxErr(ctx, timedOut(err, deadline))
	}
	var conn net.Conn = tc
	_ = conn.SetDeadline(deadline)
	if u.Scheme == "https" {
		// The kubelet's probe transport skips certificate checks.
		conn = tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname()})
	}
	ex := &exchange{conn: conn, br: readers.Get().(*bufio.Reader)}
	ex.br.Reset(conn)
	// A cancelled ctx (the worker stopping) ends the exchange at once.
	ex.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	if _, err := conn.Write(m.request(u, referer)); err != nil {
		ex.close()
		return nil, ctxErr(ctx, timedOut(err, deadline))
	}
	if _, err := ex.br.Peek(1); err != nil {
		ex.close()
		return nil, ctxErr(ctx, timedOut(err, deadline)) // io.EOF reads "EOF", as the Transport says it
	}
	for {
		// Informational answers are skipped for as long as they come
		// (net/http bounds them by header bytes; here the deadline does).
		res, err := http.ReadResponse(ex.br, nil)
		if err != nil {
			ex.close()
			err = timedOut(err, deadline)
			if !isTimeout(err) {
				err = fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", err)
			}
			return nil, ctxErr(ctx, err)
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			ex.res = res
			return ex, nil
		}
	}
}

// dial connects to host:port by deadline. A probe's close is a FIN, as
// the kubelet's (its probe dialer sets SO_LINGER 1 s since Kubernetes
// 1.27; 0 before, which reset every probe's connection). The default
// close sends the same FIN without waiting in close(2) for its ACK.
// TCP keep-alive is off, unlike Go's default: a probe's connection lives
// for milliseconds and the instance cannot tell. host is an IP address
// (the instance's, and only same-host redirects are followed), dialled
// without the resolver's parsing and dual-stack race; errors read as
// DialContext's.
func dial(ctx context.Context, host, port string, deadline time.Time) (*net.TCPConn, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("%q is not an IP address", host)}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("invalid port %q", port)}
	}
	d := net.Dialer{Deadline: deadline, KeepAlive: -1}
	tc, err := d.DialTCP(ctx, "tcp", netip.AddrPort{}, netip.AddrPortFrom(ip, uint16(n)))
	if err != nil {
		if op, ok := err.(*net.OpError); ok {
			op.Source = nil // an unset local address, not ":0"
		}
		return nil, err
	}
	return tc, nil
}

// request is the GET as net/http writes it for the kubelet's client:
// Host, User-Agent, the other headers sorted, then Connection: close.
func (m *Manager) request(u *url.URL, referer string) []byte {
	b := make([]byte, 0, 128+len(u.Path)+len(u.RawQuery)+len(referer))
	b = append(b, "GET "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, m.userAgent...)
	b = append(b, "\r\nAccept: */*\r\n"...)
	if referer != "" {
		b = append(b, "Referer: "...)
		b = append(b, referer...)
		b = append(b, "\r\n"...)
	}
	return append(b, "Connection: close\r\n\r\n"...)
}

// timedOut turns an error after the deadline into the Client's timeout
// error.
func timedOut(err error, deadline time.Time) error {
	if !time.Now().Before(deadline) || isTimeout(err) {
		msg := "context deadline exceeded"
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			msg = err.Error() // the Client keeps a dial error: "dial tcp ...: i/o timeout"
		}
		return timeoutError{msg + timeoutSuffix}
	}
	return err
}

// ctxErr prefers the context's error once it ended, as the Client does.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// timeoutError is a timeout with the Client's message.
type timeoutError struct{ msg string }

func (e timeoutError) Error() string { return e.msg }
func (e timeoutError) Timeout() bool { return true }
