package session

import (
	"bytes"
	"strings"
	"testing"
)

// The gateway token is --token, else the top-level token of
// service.json, and up says which one it uses.
func TestGatewayToken(t *testing.T) {
	for _, tc := range []struct{ flag, file, want, says string }{
		{"", "", "", ""},
		{"f", "", "f", ""},
		{"", "s", "s", "the token of service.json"},
		{"f", "s", "f", "--token (it overrides"},
	} {
		var b bytes.Buffer
		if got := gatewayToken(&b, tc.flag, tc.file); got != tc.want {
			t.Errorf("gatewayToken(%q, %q) = %q, want %q", tc.flag, tc.file, got, tc.want)
		}
		if tc.says == "" && b.Len() != 0 || !strings.Contains(b.String(), tc.says) {
			t.Errorf("gatewayToken(%q, %q) said %q, want %q", tc.flag, tc.file, b.String(), tc.says)
		}
	}
}
