package admin_test

import (
	"testing"

	"github.com/easlocal/easlocal/admin"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]string{"SIGKILL": "SIGKILL", "kill": "SIGKILL", "9": "SIGKILL", "term": "SIGTERM",
		"SigInt": "SIGINT", " HUP ": "SIGHUP", "sigstop": "SIGSTOP"} {
		got, _, err := admin.ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "-1", "999", "SIG"} {
		if got, _, err := admin.ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %q, want an error", in, got)
		}
	}
}
