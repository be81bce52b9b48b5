package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/runtime"
	"github.com/rs/zerolog"
)

func runtimeTestLog() zerolog.Logger { return zerolog.Nop() }

// A missing prerequisite is listed as MISSING with its fix and fails the
// command; optional ones only warn.
func TestPrintChecks(t *testing.T) {
	var b bytes.Buffer
	ok := printChecks(&b, []runtime.Check{
		{Name: "root", OK: true, Detail: "running as root"},
		{Name: "runc", Detail: "runc not found", Fix: "apt-get install runc"},
		{Name: "overlayfs", Optional: true, Detail: "not listed", Fix: "modprobe overlay"},
	})
	want := "ok      root: running as root\n" +
		"MISSING runc: runc not found\n" +
		"        fix: apt-get install runc\n" +
		"warn    overlayfs: not listed\n" +
		"        fix: modprobe overlay\n" +
		"easlocal cannot run services until the MISSING items are fixed.\n"
	if ok || b.String() != want {
		t.Errorf("printChecks = %v:\n%s\nwant:\n%s", ok, b.String(), want)
	}
}

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
