package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func runtimeTestLog() zerolog.Logger { return zerolog.Nop() }

// doctor checks the real machine: CNI plugins in an empty directory are
// reported missing with the Debian package that provides them.
func TestDoctorReportsMissingCNI(t *testing.T) {
	out, _, code := runCLI(t, "doctor", "--cni-bin-dir", t.TempDir())
	if code != 1 {
		t.Errorf("doctor with no CNI plugins: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"MISSING cni plugins", "containernetworking-plugins", "network namespaces", "cgroups"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if os.Geteuid() == 0 && !strings.Contains(out, "ok      root") {
		t.Errorf("doctor as root:\n%s", out)
	}
}
