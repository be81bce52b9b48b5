package main

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// easlocal is the root module's only command, so `go install ./...` at the
// root (and `go install github.com/easlocal/easlocal/...@version`) installs
// easlocal alone. Other programs live in modules of their own: tools/ and
// examples/app.
func TestOnlyCommandOfRootModule(t *testing.T) {
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "github.com/easlocal/easlocal/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := strings.Fields(string(out))
	if want := []string{"github.com/easlocal/easlocal/cmd/easlocal"}; !slices.Equal(got, want) {
		t.Errorf("main packages of the root module = %q, want %q; move other programs to tools/ (a module of its own)", got, want)
	}
}
