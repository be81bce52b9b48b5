package control

import (
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

func TestParseFault(t *testing.T) {
	for _, tc := range []struct {
		args    string
		service string
		want    admin.Fault
	}{
		{"demo-1 blackhole", "", admin.Fault{Instance: "demo-1", Kind: "blackhole"}},
		{"demo demo-1 loss 30%", "demo", admin.Fault{Instance: "demo-1", Kind: "loss", Percent: 30}},
		{"demo-1 http_delay 200ms", "", admin.Fault{Instance: "demo-1", Kind: "http-delay", Delay: 200 * time.Millisecond}},
		{"all http-abort 503", "", admin.Fault{Kind: "http-abort", Status: 503}},
		{"demo-0 http-abort reset", "", admin.Fault{Instance: "demo-0", Kind: "http-abort", Reset: true}},
		{"demo-0 bandwidth 1mbit", "", admin.Fault{Instance: "demo-0", Kind: "bandwidth", Rate: "1mbit"}},
		{"demo-0 pause", "", admin.Fault{Instance: "demo-0", Kind: "pause"}},
	} {
		svc, f, err := ParseFault(strings.Fields(tc.args))
		if err != nil || svc != tc.service || f != tc.want {
			t.Errorf("%q: %q %+v %v, want %q %+v", tc.args, svc, f, err, tc.service, tc.want)
		}
	}
	for args, want := range map[string]string{
		"blackhole":               "usage: easlocal fault",
		"a b c blackhole":         "usage: easlocal fault",
		"demo-1 jam":              "usage: easlocal fault",
		"demo-1 loss thirty":      `loss "thirty"`,
		"demo-1 http-delay":       "needs a delay",
		"demo-1 http-delay soon":  `http-delay "soon"`,
		"demo-1 http-abort maybe": `http-abort "maybe"`,
		"demo-1 blackhole 5":      "takes no value",
		"demo-1 loss 30% 40%":     `unexpected "40%"`,
	} {
		if _, _, err := ParseFault(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", args, err, want)
		}
	}
}
