package proxy

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// plainURIs are request targets parsePlainURI takes or leaves; each one it
// takes must come out as url.ParseRequestURI makes it.
var plainURIs = []string{
	"/", "/api/predict/demo/", "/api/predict/demo", "/a?b=c", "/a?", "/a??", "/a?b?c",
	"/a?b=%zz&c", "//x", "///x", "/a/../b/./c", "/a;b=c:d@e", "/a$b&c+d,e=f", "/~a-b_c.d",
	"/a%20b", "/a%2Fb", "/a b", "/a#b", "/a?b#c", "/a!b", "/a(b)*'", "/é", "/a\x00",
	"/a?b\x7f", "/a?b\tc", "*", "http://x/a", "a/b", "", "?a", "/a?b=c d", "/a[b]", "/a\"b",
	"/a<b>", "/a{b}", "/a|b", "/a\\b", "/a^b", "/a`b", "/:a", "/a?b=/c?d",
}

func TestParsePlainURI(t *testing.T) {
	took := 0
	for _, uri := range plainURIs {
		checkPlainURI(t, uri)
		if parsePlainURI(uri, new(url.URL)) {
			took++
		}
	}
	// The gateway's common targets take the plain path.
	for _, uri := range []string{"/api/predict/demo/", "/api/predict/demo/v1/models:predict?x=1&y=%20"} {
		if !parsePlainURI(uri, new(url.URL)) {
			t.Errorf("parsePlainURI left %q to url.ParseRequestURI", uri)
		}
	}
	if took < 10 {
		t.Errorf("parsePlainURI took %d of the %d targets; the comparison checks too little", took, len(plainURIs))
	}
}

func FuzzPlainURI(f *testing.F) {
	for _, uri := range plainURIs {
		f.Add(uri)
	}
	f.Fuzz(checkPlainURI)
}

func checkPlainURI(t *testing.T, uri string) {
	var got url.URL
	if !parsePlainURI(uri, &got) {
		if got != (url.URL{}) {
			t.Errorf("parsePlainURI(%q) refused but changed the URL: %#v", uri, got)
		}
		return
	}
	want, err := url.ParseRequestURI(uri)
	if err != nil {
		t.Fatalf("parsePlainURI took %q, which url.ParseRequestURI refuses: %v", uri, err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("parsePlainURI(%q) = %#v, url.ParseRequestURI makes %#v", uri, got, *want)
	}
}

// A head parsed into an arena is whole and right after the arena held a
// longer one.
func TestHeadArenaReuse(t *testing.T) {
	var a headArena
	h := http.Header{}
	var r http.Request
	long := "GET /api/predict/svc/first?q=1 HTTP/1.1\r\nHost: example\r\nX-Long: " + strings.Repeat("v", 200) + "\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
	short := "POST /api/predict/svc/b HTTP/1.1\r\nHost: h2\r\nContent-Length: 3\r\nX-B: two\r\n\r\n"
	if !parseRequestHead([]byte(long), h, &r, &a) {
		t.Fatal("the long head was refused")
	}
	if !parseRequestHead([]byte(short), h, &r, &a) {
		t.Fatal("the short head was refused")
	}
	want := http.Header{"Content-Length": {"3"}, "X-B": {"two"}}
	if !reflect.DeepEqual(h, want) || r.Method != "POST" || r.Host != "h2" || r.URL.Path != "/api/predict/svc/b" || r.URL.RawQuery != "" || r.ContentLength != 3 {
		t.Errorf("second head parsed as %s %s host %q length %d header %v, want POST /api/predict/svc/b host h2 length 3 header %v",
			r.Method, r.URL, r.Host, r.ContentLength, h, want)
	}
	if !parseRequestHead([]byte(long), h, &r, &a) || r.Header["X-A"][1] != "2" || r.URL.RawQuery != "q=1" || len(r.Header["X-Long"][0]) != 200 {
		t.Errorf("the long head parsed again as %v %v", r.URL, r.Header)
	}
}
