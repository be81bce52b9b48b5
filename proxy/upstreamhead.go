package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

// The common answer of an instance (HTTP/1.1, a final status, a
// Content-Length, nothing else about its framing) is parsed in place, as
// the front loop parses requests: one string for all of its strings, the
// header map and body reader of the connection reused. Every other
// answer (1xx, 101, 204, 304, HEAD, chunked or close-delimited bodies,
// trailers, a head over the buffer, anything net/http would read its own
// way) is left in the buffer for http.ReadResponse. This saves most of
// what reading an answer allocated.

// answerBody is the body of an answer of known length. Owned by the
// request holding its connection.
type answerBody struct {
	br   *bufio.Reader
	left int64
}

func (b *answerBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *answerBody) Close() error { return nil }

// parseAnswerFields parses the header lines of an answer (rest, without
// the status line and the blank line) into h, which must be empty. It
// reports the answer's Content-Length and whether it closes its
// connection; ok is false for an answer that is not the common kind (no
// Content-Length or more than one, Transfer-Encoding, Trailer, a field
// net/http would read its own way).
func parseAnswerFields(rest string, h http.Header, a *headArena) (length int64, closeAfter, ok bool) {
	haveLength := false
	ok = parseFields(rest, h, a, func(k, v string) (keep, ok bool) {
		switch k {
		case "Content-Length":
			return true, oneLength(v, &haveLength, &length)
		case "Transfer-Encoding", "Trailer":
			return false, false
		case "Connection":
			closeAfter = closeAfter || closes(v)
		}
		return true, true
	})
	return length, closeAfter, ok && haveLength
}

// readSimpleAnswer returns the answer at the start of uc.br when it is the
// common kind, or nil (nothing consumed) for http.ReadResponse to read.
// Errors are those of reading the connection.
func (uc *upConn) readSimpleAnswer(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodHead {
		return nil, nil
	}
	n, err := peekHead(uc.br, uc.br.Size(), nil, nil)
	if n == 0 || err != nil {
		return nil, err
	}
	raw, _ := uc.br.Peek(n)
	if !bytes.HasPrefix(raw, []byte("HTTP/1.1 ")) || len(raw) < 13 {
		return nil, nil
	}
	code := 0
	for _, c := range raw[9:12] {
		if c < '0' || c > '9' {
			return nil, nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified || (raw[12] != ' ' && raw[12] != '\r') {
		return nil, nil
	}
	s := string(raw[:n-4])
	status, rest, _ := strings.Cut(s, "\r\n")
	if uc.header == nil || len(uc.header) > maxReusedFields {
		uc.header = make(http.Header, 8)
	}
	h := uc.header
	clear(h)
	length, closeAfter, ok := parseAnswerFields(rest, h, nil)
	if !ok {
		return nil, nil
	}
	if closeAfter {
		delete(h, "Connection") // as http.ReadResponse: Close says it
	}
	uc.br.Discard(n)
	uc.body = answerBody{br: uc.br, left: length}
	uc.resp = http.Response{
		Status:        status[9:],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          &uc.body,
		ContentLength: length,
		Close:         closeAfter,
		Request:       req,
	}
	return &uc.resp, nil
}
