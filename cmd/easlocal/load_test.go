package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
)

// needContainerd skips without root and containerd, except under CI=true
// where it fails: there the commands must be tested for real.
func needContainerd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs root and containerd (run without -short)")
	}
	var why string
	if os.Geteuid() != 0 {
		why = "not root"
	} else if rt, err := runtime.New(context.Background(), runtime.Config{}, runtimeTestLog()); err != nil {
		why = err.Error()
	} else {
		rt.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but containerd cannot be used: %s", why)
	}
	t.Skip(why)
}

// runCLIInput is runCLI with stdin.
func runCLIInput(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp()
	app.Reader, app.Writer, app.ErrWriter = bytes.NewReader(stdin), &out, &errb
	if err := app.Run(append([]string{"easlocal"}, args...)); err != nil {
		var ue usage.Error
		code = 1
		if errors.As(err, &ue) {
			code = 2
		}
		errb.WriteString("easlocal: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}

// `easlocal load` imports docker-save and OCI-layout archives, from a file
// or stdin, prints the names added, and `easlocal images` lists them.
func TestLoadAndImagesCommands(t *testing.T) {
	needContainerd(t)
	ctx := context.Background()
	dir := t.TempDir()
	root, _ := filepath.Abs("../..")
	docker := filepath.Join(dir, "docker.tar")
	oci := filepath.Join(dir, "oci.tar")
	if err := build.Build(ctx, build.Options{Out: docker, Ref: "easlocal.local/cli-load:docker", Dir: root}); err != nil {
		t.Fatal(err)
	}
	if err := build.Build(ctx, build.Options{Out: oci, Ref: "easlocal.local/cli-load:oci", Format: build.FormatOCI, Dir: root}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "load", docker)
	if code != 0 || out != "loaded easlocal.local/cli-load:docker\n" {
		t.Errorf("load FILE: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	archive, err := os.ReadFile(oci)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLIInput(t, archive, "load", "-")
	if code != 0 || out != "loaded easlocal.local/cli-load:oci\n" {
		t.Errorf("load - (OCI on stdin): exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, _, code = runCLI(t, "images", "-q")
	if code != 0 || !strings.Contains(out, "easlocal.local/cli-load:docker\n") || !strings.Contains(out, "easlocal.local/cli-load:oci\n") {
		t.Errorf("images -q: exit %d:\n%s", code, out)
	}
	out, _, code = runCLI(t, "images")
	if code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "MiB") {
		t.Errorf("images: exit %d:\n%s", code, out)
	}

	_, errOut, code = runCLIInput(t, []byte("not an archive"), "load", "-")
	if code != 1 || !strings.Contains(errOut, "import image archive") {
		t.Errorf("load of garbage: exit %d, stderr %q", code, errOut)
	}
}

func TestLoadUsage(t *testing.T) {
	if _, errOut, code := runCLI(t, "load"); code != 2 || !strings.Contains(errOut, "give one archive") {
		t.Errorf("load without FILE: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "load", filepath.Join(t.TempDir(), "missing.tar")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("load of a missing file: exit %d, %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "images", "--subnet", "10.0.0.0/30"); code != 2 || !strings.Contains(errOut, "--subnet") {
		t.Errorf("images with a bad --subnet: exit %d, %q", code, errOut)
	}
}
