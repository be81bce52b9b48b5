package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unsafe"

	"golang.org/x/net/http/httpguts"
)

// The lean parsers of request heads (front.go) and answer heads
// (upstreamhead.go) share these: both take only heads written the plain
// way (CRLF line ends, valid names and values) and leave the rest to
// net/http, so neither has to know every reading net/http allows.

var blankLine = []byte("\r\n\r\n")

// peekHead reads into br until it holds a whole head (up to and including
// its blank line) and returns the head's length, or 0 when the head is
// not for a lean parser: a bare LF before its end, longer than limit (or
// br's buffer), or one reject refuses (reject sees the bytes so far; nil
// refuses none). Nothing is consumed. beforeWait, when set, is called
// once, before the first read that has to wait for more bytes.
func peekHead(br *bufio.Reader, limit int, reject func([]byte) bool, beforeWait func()) (int, error) {
	limit = min(limit, br.Size())
	from := 0
	for {
		buf, _ := br.Peek(br.Buffered())
		if reject != nil && reject(buf) {
			return 0, nil
		}
		start := max(0, from-3)
		end := bytes.Index(buf[start:], blankLine)
		head := buf
		if end >= 0 {
			end += start + len(blankLine)
			head = buf[:end]
		}
		if bareLF(head, from) {
			return 0, nil
		}
		if end >= 0 {
			if end <= limit {
				return end, nil
			}
			return 0, nil
		}
		if len(buf) >= limit {
			return 0, nil
		}
		from = len(buf)
		if beforeWait != nil {
			beforeWait()
			beforeWait = nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// bareLF reports whether buf has, from index from on, a LF that does not
// end a CRLF.
func bareLF(buf []byte, from int) bool {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return false
		}
		if i+j == 0 || buf[i+j-1] != '\r' {
			return true
		}
		i += j + 1
	}
	return false
}

// A headArena is the memory of the heads parsed on one connection an
// event loop owns, reused from head to head: the head's text, which every
// string of the parsed head is a part of, the header's value slices and
// the request's URL. Nothing of a parsed head may be kept past the next
// head on the same connection: the loop's request and answer end, and
// drop their header maps, before it parses the next. The zero value is
// ready; a nil arena allocates afresh, for heads handed on to code that
// may keep them.
type headArena struct {
	raw  []byte
	vals []string
	url  url.URL
}

// arenaMax: a longer head is copied afresh, not kept per connection.
const arenaMax = 4 << 10

// text returns raw as a string: a copy in the arena when there is one.
func (a *headArena) text(raw []byte) string {
	if a == nil || len(raw) > arenaMax {
		return string(raw)
	}
	a.raw = append(a.raw[:0], raw...)
	return unsafe.String(unsafe.SliceData(a.raw), len(a.raw))
}

// values returns an empty slice with room for n values.
func (a *headArena) values(n int) []string {
	if a == nil || n > arenaMax/16 {
		return make([]string, 0, n)
	}
	if cap(a.vals) < n {
		a.vals = make([]string, 0, max(n, 16))
	}
	return a.vals[:0]
}

// parseFields parses the header lines of block (CRLF-separated, without
// the blank line) into h, which must be empty (a caller with an arena
// clears it before the arena's text changes under its keys); every value
// is a part of block, and the value slices share one allocation (a's,
// when a is not nil). field sees each canonical name and trimmed value first:
// keep=false leaves it out of h, ok=false refuses the head. parseFields
// reports false for a head to leave to net/http.
func parseFields(block string, h http.Header, a *headArena, field func(k, v string) (keep, ok bool)) bool {
	vals := a.values(strings.Count(block, "\r\n") + 1)
	for block != "" {
		var l string
		l, block, _ = strings.Cut(block, "\r\n")
		k, v, found := strings.Cut(l, ":")
		if !found || !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		v = strings.Trim(v, " \t")
		if !httpguts.ValidHeaderFieldValue(v) {
			return false
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		keep, ok := field(k, v)
		if !ok {
			return false
		}
		if !keep {
			continue
		}
		if vv, seen := h[k]; seen {
			h[k] = append(vv, v)
			continue
		}
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return true
}

// parseLength parses a Content-Length value as net/http accepts it:
// digits only.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// oneLength parses Content-Length value v into n, refusing a second one
// (have says whether one was seen).
func oneLength(v string, have *bool, n *int64) bool {
	if *have {
		return false
	}
	*have = true
	var ok bool
	*n, ok = parseLength(v)
	return ok
}

// closes reports whether Connection value v asks to close.
func closes(v string) bool { return httpguts.HeaderValuesContainsToken([]string{v}, "close") }
