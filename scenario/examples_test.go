package scenario

import (
	"path/filepath"
	"testing"
)

// Every file in examples/scenarios is a valid scenario file.
func TestExamplesValid(t *testing.T) {
	files, err := filepath.Glob("../examples/scenarios/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples/scenarios: %v %v", files, err)
	}
	for _, f := range files {
		scs, err := LoadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for _, s := range scs {
			if len(s.Expect.checks(s)) == 0 {
				t.Errorf("%s: scenario %s checks nothing", f, s.Name)
			}
		}
	}
}
