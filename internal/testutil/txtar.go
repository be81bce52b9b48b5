package testutil

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// SeedTxtar adds to f's seed corpus the section called name of every
// txtar archive that matches pattern (the golden files), so that plain
// go test runs the fuzz target on them too.
func SeedTxtar(f *testing.F, pattern, name string) {
	f.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, af := range ar.Files {
			if af.Name == name {
				f.Add(af.Data)
			}
		}
	}
}

// EachTxtar runs test, as a subtest named after the file, on every txtar
// archive that matches pattern (the golden files), with the file's
// absolute path for rewriting it. It fails when nothing matches.
func EachTxtar(t *testing.T, pattern string, test func(t *testing.T, file string, ar *txtar.Archive)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no file matches %s (%v)", pattern, err)
	}
	for _, file := range files {
		file, err := filepath.Abs(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			test(t, file, ar)
		})
	}
}
