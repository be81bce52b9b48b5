package testutil

import (
	"path/filepath"
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
