package service

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/tools/txtar"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// diagnostic must name a path and say something, an error must be a
// *ValidationError, and a valid result must survive the --json round trip.
// The golden inputs are the seed corpus, so plain go test runs them too.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if input, ok := section(ar, "service.json"); ok {
			f.Add(input)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, warnings, err := Parse(data)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if ve != nil && len(ve.Errors) == 0 {
			t.Fatal("ValidationError with no errors")
		}
		for _, d := range append(warnings, validationErrors(err)...) {
			if d.Path == "" || d.Message == "" {
				t.Fatalf("diagnostic without path or message: %#v", d)
			}
		}
		if err != nil {
			return
		}
		if s == nil {
			t.Fatal("nil service without error")
		}
		roundTrip(t, s)
		for i := range s.Containers {
			if _, err := s.Containers[i].Args(); err != nil {
				t.Fatalf("valid service, but containers[%d].Args: %v", i, err)
			}
		}
	})
}
