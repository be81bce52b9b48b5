package scenario

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/easlocal/easlocal/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/golden/*.txtar")

// defaultService is the service.json a golden case gets unless it brings
// its own: three instances.
const defaultService = `{"metadata": {"name": "svc", "instance": 3}, "containers": [{"image": "easlocal.local/example:latest", "port": 8000}]}`

// Each testdata/golden/*.txtar holds a scenario.yaml (and any file it
// refers to) and what Parse says about it: the errors, one per line, or
// the summary of a valid file. go test ./scenario -update rewrites them.
func TestGolden(t *testing.T) {
	var invalid int
	testutil.EachTxtar(t, "testdata/golden/*.txtar", func(t *testing.T, file string, ar *txtar.Archive) {
		dir := t.TempDir()
		hasService := false
		for _, f := range ar.Files {
			if f.Name == "errors" || f.Name == "summary" {
				continue
			}
			hasService = hasService || f.Name == "service.json"
			p := filepath.Join(dir, f.Name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !hasService {
			if err := os.WriteFile(filepath.Join(dir, "service.json"), []byte(defaultService), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string]string{}
		scs, err := LoadFile(filepath.Join(dir, "scenario.yaml"))
		var fe *FileError
		switch {
		case errors.As(err, &fe):
			invalid++
			if fe.Err != nil {
				got["errors"] = strings.ReplaceAll(fe.Err.Error(), dir, "DIR") + "\n"
			}
			for _, d := range fe.Errors {
				got["errors"] += strings.ReplaceAll(d.String(), dir, "DIR") + "\n"
			}
		case err != nil:
			t.Fatalf("LoadFile returned %T %v, want nil or *FileError", err, err)
		default:
			for _, s := range scs {
				got["summary"] += strings.ReplaceAll(Summary(s), dir, "DIR")
			}
		}
		if *update {
			var keep []txtar.File
			for _, f := range ar.Files {
				if f.Name != "errors" && f.Name != "summary" {
					keep = append(keep, f)
				}
			}
			for _, name := range []string{"summary", "errors"} {
				if got[name] != "" {
					keep = append(keep, txtar.File{Name: name, Data: []byte(got[name])})
				}
			}
			ar.Files = keep
			if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		for _, name := range []string{"summary", "errors"} {
			want := ""
			for _, f := range ar.Files {
				if f.Name == name {
					want = string(f.Data)
				}
			}
			if got[name] != want {
				t.Errorf("%s differs (go test ./scenario -update accepts)\n--- got\n%s--- want\n%s", name, got[name], want)
			}
		}
	})
	if !*update && invalid < 15 {
		t.Errorf("only %d invalid cases, want at least 15", invalid)
	}
}
