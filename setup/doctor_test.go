package setup

import (
	"bytes"
	"testing"

	"github.com/easlocal/easlocal/runtime"
)

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
