package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/internal/testutil"
)

// Parse never panics or hangs; what it refuses is a *FileError whose
// every diagnostic names a line and a field, and what it accepts is
// consistent (faults within the load, instances in range).
func FuzzParse(f *testing.F) {
	testutil.SeedTxtar(f, "testdata/golden/*.txtar", "scenario.yaml")
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "service.json"), []byte(defaultService), 0o644); err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "scenario.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		scs, err := Parse(path, data)
		var fe *FileError
		switch {
		case err == nil:
			for _, s := range scs {
				if s.Load.Duration < 1e9 || s.Service == "" {
					t.Fatalf("accepted %+v", s)
				}
				for _, fl := range s.Faults {
					if fl.At < 0 || fl.At >= s.Load.Duration || fl.Index >= s.Count || !strings.Contains(strings.Join(Kinds, " "), fl.Kind) {
						t.Fatalf("accepted fault %+v of %+v", fl, s)
					}
				}
				_ = Summary(s)
			}
		case errors.As(err, &fe):
			if fe.Err == nil && len(fe.Errors) == 0 {
				t.Fatal("a FileError without errors")
			}
			for _, d := range fe.Errors {
				if d.Line < 1 || d.Field == "" || d.Message == "" {
					t.Fatalf("diagnostic without line, field or message: %+v", d)
				}
			}
		default:
			t.Fatalf("Parse returned %T %v", err, err)
		}
	})
}
