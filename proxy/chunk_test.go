package proxy

import (
	"bytes"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// The chunk decoder gives the data and trailers httputil's reader does,
// however the bytes are split.
func TestChunkDecoder(t *testing.T) {
	var enc bytes.Buffer
	cw := httputil.NewChunkedWriter(&enc)
	for _, p := range []string{"a", strings.Repeat("b", 300), "cd\r\n", strings.Repeat("e", 5000)} {
		io.WriteString(cw, p)
	}
	cw.Close()
	enc.WriteString("X-T: 1\r\nX-U: 2\r\n\r\n")
	wire := enc.Bytes()
	want, _ := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(wire)))
	for _, step := range []int{1, 2, 3, 7, 64, len(wire)} {
		var d chunkDecoder
		var data, buf []byte
		for i := 0; i < len(wire) || len(buf) > 0; {
			if i < len(wire) {
				buf = append(buf, wire[i:min(i+step, len(wire))]...)
				i += step
			}
			n, err := d.feed(buf, func(p []byte) { data = append(data, p...) })
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			buf = buf[n:]
			if d.done || (i >= len(wire) && n == 0) {
				break
			}
		}
		if !d.done || !bytes.Equal(data, want) || string(d.trailer) != "X-T: 1\r\nX-U: 2\r\n" {
			t.Errorf("step %d: done=%v, %d bytes (want %d), trailer %q", step, d.done, len(data), len(want), d.trailer)
		}
	}
	for _, bad := range []string{"zz\r\n", "3\r\nabcX\r\n", strings.Repeat("1", 20) + "\r\n"} {
		var d chunkDecoder
		if _, err := d.feed([]byte(bad), func([]byte) {}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
