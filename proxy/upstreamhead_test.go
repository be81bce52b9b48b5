package proxy

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// readSimpleAnswer reads the plain answers as http.ReadResponse does and
// leaves every other one untouched for it.
func TestReadSimpleAnswer(t *testing.T) {
	get := &http.Request{Method: http.MethodGet}
	head := &http.Request{Method: http.MethodHead}
	cases := []struct {
		name   string
		raw    string
		req    *http.Request
		simple bool
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", get, true},
		{"body with bare LFs", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\na\nb\n", get, true},
		{"repeated and lower-case", "HTTP/1.1 201 Created\r\ncontent-length: 2\r\nX-A: 1\r\nx-a: 2\r\nX-Pad:  v \t\r\n\r\nok", get, true},
		{"close", "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbad", get, true},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", get, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", get, false},
		{"trailer", "HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", get, false},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nall of it", get, false},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", get, false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", get, false},
		{"not modified", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", get, false},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", head, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", get, false},
		{"bare LF head", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", get, false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", get, false},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", get, false},
		{"bad name", "HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 2\r\n\r\nok", get, false},
		{"folded", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok", get, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			uc := &upConn{br: bufio.NewReaderSize(strings.NewReader(tc.raw), bufSize)}
			resp, err := uc.readSimpleAnswer(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.simple {
				if resp != nil {
					t.Fatalf("took the answer; want it left to http.ReadResponse")
				}
				if rest, _ := io.ReadAll(uc.br); string(rest) != tc.raw {
					t.Fatalf("left %q; want all of the answer", rest)
				}
				return
			}
			if resp == nil {
				t.Fatal("left the answer to http.ReadResponse; want it read")
			}
			want, err := http.ReadResponse(bufio.NewReader(strings.NewReader(tc.raw)), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			gotBody, gerr := io.ReadAll(resp.Body)
			wantBody, werr := io.ReadAll(want.Body)
			if resp.StatusCode != want.StatusCode || resp.Status != want.Status || !reflect.DeepEqual(resp.Header, want.Header) ||
				resp.ContentLength != want.ContentLength || resp.Close != want.Close || string(gotBody) != string(wantBody) || (gerr == nil) != (werr == nil) {
				t.Errorf("got %d %q %v len %d close %v body %q (%v)\nwant %d %q %v len %d close %v body %q (%v)",
					resp.StatusCode, resp.Status, resp.Header, resp.ContentLength, resp.Close, gotBody, gerr,
					want.StatusCode, want.Status, want.Header, want.ContentLength, want.Close, wantBody, werr)
			}
			if uc.br.Buffered() != 0 {
				t.Errorf("%d bytes left after the body", uc.br.Buffered())
			}
		})
	}
}
