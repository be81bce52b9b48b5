package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// EachTxtar runs one subtest per matching archive, named after it, with
// the archive parsed and its absolute path.
func TestEachTxtar(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b"} {
		ar := txtar.Format(&txtar.Archive{Files: []txtar.File{{Name: "in", Data: []byte(name + "\n")}}})
		if err := os.WriteFile(filepath.Join(dir, name+".txtar"), ar, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	EachTxtar(t, filepath.Join(dir, "*.txtar"), func(t *testing.T, file string, ar *txtar.Archive) {
		if !filepath.IsAbs(file) || len(ar.Files) != 1 {
			t.Errorf("%s: %d sections", file, len(ar.Files))
		}
		seen = append(seen, t.Name()+"="+strings.TrimSpace(string(ar.Files[0].Data)))
	})
	if got, want := strings.Join(seen, " "), "TestEachTxtar/a=a TestEachTxtar/b=b"; got != want {
		t.Errorf("ran %q, want %q", got, want)
	}

}
