package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// frontWriter is the http.ResponseWriter of the loop's requests (reused
// by its connection). Besides Header, Write and WriteHeader it has what
// http.ResponseController looks for: FlushError and the deadlines. Its
// framing follows net/http's: a declared Content-Length is kept, an
// answer that ends within bufferBeforeChunking bytes gets one, a longer
// or flushed one is chunked; HEAD answers carry the headers a GET would
// and no body.
type frontWriter struct {
	fc     *frontConn
	req    *http.Request
	header http.Header

	status     int   // 0 until WriteHeader
	length     int64 // declared Content-Length; -1 = none
	written    int64 // body bytes written
	wroteHead  bool
	chunked    bool
	head       bool // a HEAD request: no body is sent
	noBody     bool // 204 or 304: no body may be written
	closeAfter bool
	pending    []byte
	err        error // the first write error
}

func (w *frontWriter) reset(r *http.Request) {
	if len(w.header) > maxReusedFields {
		w.header = make(http.Header, 8)
	}
	clear(w.header)
	pending := w.pending[:0]
	*w = frontWriter{fc: w.fc, req: r, header: w.header, length: -1, pending: pending, head: r.Method == http.MethodHead}
}

func (w *frontWriter) Header() http.Header { return w.header }

func (w *frontWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		return
	}
	if code < 200 {
		w.writeInterim(code)
		return
	}
	w.status = code
	w.noBody = code == http.StatusNoContent || code == http.StatusNotModified
	if v := w.header["Content-Length"]; len(v) > 0 {
		if n, ok := parseLength(strings.TrimSpace(v[0])); ok {
			w.length = n
		} else {
			delete(w.header, "Content-Length")
		}
	}
}

// writeInterim sends a 1xx answer with the headers set so far.
func (w *frontWriter) writeInterim(code int) {
	bw := w.fc.bw
	writeStatusLine(bw, code)
	for k, vv := range w.header {
		writeHeaderField(bw, k, vv)
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *frontWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.wroteHead {
		if w.length < 0 && len(w.pending)+len(p) <= bufferBeforeChunking {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.chunked = w.length < 0 && !w.head
		first := p
		if len(w.pending) > 0 {
			first = w.pending // the body starts with what was held back
		}
		w.writeHead(first)
		w.writePending()
	}
	return w.writeBody(p)
}

func (w *frontWriter) writePending() {
	if len(w.pending) > 0 {
		w.writeBody(w.pending)
		w.pending = w.pending[:0]
	}
}

func (w *frontWriter) writeBody(p []byte) (int, error) {
	bw := w.fc.bw
	var err error
	n := len(p)
	switch {
	case w.head:
	case w.chunked:
		if n == 0 {
			return 0, nil
		}
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(n), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		_, err = bw.WriteString("\r\n")
	default:
		if left := w.length - w.written; int64(n) > left {
			n = int(left)
			err = http.ErrContentLength
		}
		if _, werr := bw.Write(p[:n]); werr != nil {
			err = werr
		}
	}
	w.written += int64(n)
	if err != nil && !errors.Is(err, http.ErrContentLength) {
		w.err = err
		return 0, err
	}
	return n, err
}

// writeHead writes the status line and headers; first is the start of
// the body (for a Content-Type to be sniffed when none is set).
func (w *frontWriter) writeHead(first []byte) {
	w.wroteHead = true
	bw := w.fc.bw
	h := w.header
	writeStatusLine(bw, w.status)
	for k, vv := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		writeHeaderField(bw, k, vv)
	}
	if _, ok := h["Date"]; !ok {
		writeDate(bw)
	}
	if _, ok := h["Content-Type"]; !ok && !w.noBody && len(first) > 0 {
		bw.WriteString("Content-Type: ")
		bw.WriteString(http.DetectContentType(first))
		bw.WriteString("\r\n")
	}
	switch {
	case w.noBody:
	case w.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	case w.length >= 0:
		writeLength(bw, w.length)
	}
	if w.req.Close || httpguts.HeaderValuesContainsToken(h["Connection"], "close") || w.fc.srv.inShutdown.Load() ||
		w.fc.body.left.Load() >= maxPostHandlerRead {
		w.closeAfter = true
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// FlushError sends what is buffered; an answer of unknown length becomes
// chunked.
func (w *frontWriter) FlushError() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if !w.wroteHead {
		w.chunked = w.length < 0 && !w.noBody && !w.head
		w.writeHead(w.pending)
		w.writePending()
	}
	if err := w.fc.bw.Flush(); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *frontWriter) Flush() { _ = w.FlushError() }

// SetWriteDeadline sets the connection's write deadline, unless the one
// already set is later by less than 1/64 of t's distance (a streaming copy
// sets one before every write; each change costs a timer update). A
// deadline left from an earlier request is cleared when half of its span
// has passed (serveRequest).
func (w *frontWriter) SetWriteDeadline(t time.Time) error {
	fc := w.fc
	now := time.Now()
	if !t.IsZero() && !fc.wdl.IsZero() {
		if d := t.Sub(fc.wdl); d >= 0 && d < t.Sub(now)/64 {
			return nil
		}
	}
	fc.wdl, fc.wspan = t, t.Sub(now)
	return fc.c.SetWriteDeadline(t)
}

func (w *frontWriter) SetReadDeadline(t time.Time) error { return w.fc.c.SetReadDeadline(t) }

// finish completes the answer after the handler returned: the head (with
// a Content-Length for a short answer), the last chunk with any trailers,
// and a flush. An answer shorter than its Content-Length closes the
// connection.
func (w *frontWriter) finish() error {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	bw := w.fc.bw
	if !w.wroteHead {
		// Trailers set after a short body are dropped, as net/http does:
		// they travel only in a chunked answer.
		switch {
		case w.noBody:
		case w.length < 0 && (!w.head || len(w.pending) > 0):
			w.length = int64(len(w.pending))
		}
		w.writeHead(w.pending)
		w.writePending()
	}
	if w.chunked {
		bw.WriteString("0\r\n")
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				writeHeaderField(bw, name, vv)
			}
		}
		bw.WriteString("\r\n")
	} else if !w.noBody && !w.head && w.length >= 0 && w.written < w.length {
		w.closeAfter = true
	}
	return bw.Flush()
}

func writeStatusLine(bw *bufio.Writer, code int) {
	if line, ok := statusLines[code]; ok {
		bw.WriteString(line)
		return
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	bw.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n")
}

// statusLines are the status lines of the common codes, built once.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for _, c := range []int{200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 408, 413, 429, 500, 502, 503, 504} {
		m[c] = "HTTP/1.1 " + strconv.Itoa(c) + " " + http.StatusText(c) + "\r\n"
	}
	return m
}()

// writeHeaderField writes k's values, skipping an invalid name (as
// net/http does) and keeping each value on one line.
func writeHeaderField(bw *bufio.Writer, k string, vv []string) {
	if !httpguts.ValidHeaderFieldName(k) {
		return
	}
	for _, v := range vv {
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(strings.TrimSpace(clean(v)))
		bw.WriteString("\r\n")
	}
}

func writeDate(bw *bufio.Writer) {
	bw.WriteString("Date: ")
	bw.WriteString(httpDate())
	bw.WriteString("\r\n")
}

// httpDate is the Date header value, formatted once a second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.s
	}
	d := &cachedDate{sec: sec, s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

type cachedDate struct {
	sec int64
	s   string
}

var dateCache atomic.Pointer[cachedDate]
