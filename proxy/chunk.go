package proxy

import (
	"bytes"
	"errors"

	"golang.org/x/net/http/httpguts"
)

// appendWriter appends to the slice b points at.
type appendWriter struct{ b *[]byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// chunkDecoder reads a chunked body as it arrives (RFC 9112 section
// 7.1): it emits the data and keeps the trailer section.
type chunkDecoder struct {
	state   int   // chSize, chData, chDataEnd, chTrailer
	left    int64 // chData: bytes of the chunk still to come
	trailer []byte
	line    []byte // chTrailer: the start of a trailer line not yet whole
	done    bool
}

const (
	chSize = iota
	chData
	chDataEnd
	chTrailer
)

const (
	maxChunkLine = 4 << 10
	maxTrailer   = 64 << 10
)

var errBadChunk = errors.New("malformed chunked encoding in the instance's answer")

// feed decodes what it can of p and returns how many bytes it used; the
// rest (a line not yet whole) must be fed again with what follows.
func (d *chunkDecoder) feed(p []byte, emit func([]byte)) (int, error) {
	n := 0
	for n < len(p) && !d.done {
		switch d.state {
		case chSize:
			i := bytes.IndexByte(p[n:], '\n')
			if i < 0 {
				if len(p)-n > maxChunkLine {
					return n, errBadChunk
				}
				return n, nil
			}
			line := bytes.TrimSuffix(p[n:n+i], []byte("\r"))
			n += i + 1
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				line = line[:j]
			}
			size, ok := parseHexSize(bytes.TrimRight(line, " \t"))
			if !ok {
				return n, errBadChunk
			}
			if size == 0 {
				d.state = chTrailer
			} else {
				d.left, d.state = size, chData
			}
		case chData:
			k := int(min(int64(len(p)-n), d.left))
			emit(p[n : n+k])
			n += k
			if d.left -= int64(k); d.left == 0 {
				d.state = chDataEnd
			}
		case chDataEnd:
			if p[n] != '\r' || (len(p)-n > 1 && p[n+1] != '\n') {
				return n, errBadChunk
			}
			if len(p)-n < 2 {
				return n, nil
			}
			n += 2
			d.state = chSize
		case chTrailer:
			// Partial lines are kept here, not left in p: a trailer line
			// may be longer than the caller's buffer.
			i := bytes.IndexByte(p[n:], '\n')
			if i < 0 {
				d.line = append(d.line, p[n:]...)
				n = len(p)
				if len(d.line)+len(d.trailer) > maxTrailer {
					return n, errBadChunk
				}
				return n, nil
			}
			line := append(d.line, p[n:n+i]...)
			d.line = d.line[:0]
			line = bytes.TrimRight(line, "\r")
			n += i + 1
			if len(line) == 0 {
				d.done = true
				break
			}
			if len(d.trailer)+len(line) > maxTrailer {
				return n, errBadChunk
			}
			// As the front loop's writer: a field with an invalid name is
			// dropped, values stay on their line.
			if name, _, ok := bytes.Cut(line, []byte(":")); ok && httpguts.ValidHeaderFieldName(string(name)) {
				d.trailer = append(append(d.trailer, line...), '\r', '\n')
			}
		}
	}
	return n, nil
}

func parseHexSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
