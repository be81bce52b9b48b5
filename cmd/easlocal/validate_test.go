package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/easlocal/easlocal/internal/testutil"
)

var updateValidate = flag.Bool("update", false, "rewrite the expected output of testdata/validate/*.txtar")

// runCLI runs the app with captured output and main's exit-status mapping.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errb
	code = exitStatus(app, app.Run(append([]string{"easlocal"}, args...)))
	return out.String(), errb.String(), code
}

// Each testdata/validate/*.txtar is one run of the command: "args" is the
// command line after "easlocal", every other file except the expectations
// (exit, stdout, stderr) is written to a fresh directory the command runs
// in. go test ./cmd/easlocal -run TestValidateCLI -update rewrites them.
func TestValidateCLI(t *testing.T) {
	testutil.EachTxtar(t, "testdata/validate/*.txtar", func(t *testing.T, file string, ar *txtar.Archive) {
		dir := t.TempDir()
		want := map[string]string{}
		var args []string
		for _, f := range ar.Files {
			switch f.Name {
			case "args":
				args = strings.Fields(string(f.Data))
			case "exit", "stdout", "stderr":
				want[f.Name] = string(f.Data)
			default:
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		if args == nil {
			t.Fatal("no args section")
		}
		t.Chdir(dir)
		stdout, stderr, code := runCLI(t, args...)
		got := map[string]string{"exit": strconv.Itoa(code) + "\n", "stdout": stdout, "stderr": stderr}
		if *updateValidate {
			out := &txtar.Archive{Comment: ar.Comment}
			for _, f := range ar.Files {
				if _, expectation := got[f.Name]; !expectation {
					out.Files = append(out.Files, f)
				}
			}
			for _, name := range []string{"exit", "stdout", "stderr"} {
				out.Files = append(out.Files, txtar.File{Name: name, Data: []byte(got[name])})
			}
			if err := os.WriteFile(file, txtar.Format(out), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		for _, name := range []string{"exit", "stdout", "stderr"} {
			if got[name] != want[name] {
				t.Errorf("%s differs (go test ./cmd/easlocal -run TestValidateCLI -update to accept)\n--- got\n%s--- want\n%s", name, got[name], want[name])
			}
		}
	})
}

// validate --json prints a service.json that validates again to the very
// same output: it can be diffed and fed back.
func TestValidateJSONFeedsBack(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "service.json")
	seed, err := os.ReadFile("testdata/validate/seed_json.txtar")
	if err != nil {
		t.Fatal(err)
	}
	ar := txtar.Parse(seed)
	for _, f := range ar.Files {
		if f.Name == "service.json" {
			if err := os.WriteFile(first, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out1, stderr1, code := runCLI(t, "validate", "--json", first)
	if code != 0 {
		t.Fatalf("first validate exited %d", code)
	}
	second := filepath.Join(dir, "effective.json")
	if err := os.WriteFile(second, []byte(out1), 0o644); err != nil {
		t.Fatal(err)
	}
	out2, stderr2, code := runCLI(t, "validate", "--json", second)
	if code != 0 || out2 != out1 {
		t.Errorf("feeding the effective JSON back: exit %d, stderr %q, same output %v\n%s", code, stderr2, out2 == out1, out2)
	}
	// The effective JSON raises no new warning; the ones about fields
	// easlocal does not reproduce stay (the fields stay too).
	for _, w := range strings.Split(strings.TrimSuffix(stderr2, "\n"), "\n") {
		if w != "" && !strings.Contains(stderr1, w) {
			t.Errorf("feeding the effective JSON back warns %q, which the first run did not", w)
		}
	}
}

// "-" reads standard input.
func TestValidateStdin(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"metadata": {"name": "from_stdin", "instance": 1}, "containers": [{"image": "app"}]}`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	saved := os.Stdin
	os.Stdin = f
	t.Cleanup(func() { os.Stdin = saved; f.Close() })
	stdout, stderr, code := runCLI(t, "validate", "-")
	if code != 0 || !strings.HasPrefix(stdout, "service from_stdin: 1 instance") || stderr != "" {
		t.Errorf("validate -: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}
