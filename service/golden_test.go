package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/easlocal/easlocal/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/golden/*.txtar")

// Each testdata/golden/*.txtar holds a service.json and what Parse must
// say about it: the summary (valid input) or the errors (invalid), and the
// warnings in either case. An optional effective.json section pins the
// --json output. go test ./service -update rewrites the expectations.
func TestGolden(t *testing.T) {
	var valid, invalid int
	testutil.EachTxtar(t, "testdata/golden/*.txtar", func(t *testing.T, file string, ar *txtar.Archive) {
		input, ok := section(ar, "service.json")
		if !ok {
			t.Fatal("no service.json section")
		}
		got := outcome(t, input, hasSection(ar, "effective.json"))
		if got["errors"] == "" {
			valid++
		} else {
			invalid++
		}
		if *update {
			writeGolden(t, file, ar, got)
			return
		}
		for _, name := range []string{"summary", "errors", "warnings", "effective.json"} {
			want, _ := section(ar, name)
			if got[name] != string(want) {
				t.Errorf("%s differs (run go test ./service -update to accept)\n--- got\n%s--- want\n%s", name, got[name], want)
			}
		}
	})
	t.Logf("%d valid and %d invalid cases", valid, invalid)
	if !*update && invalid < 30 {
		t.Errorf("only %d invalid cases; the suite promises at least 30", invalid)
	}
}

// outcome runs Parse and renders every section the golden files hold.
func outcome(t *testing.T, input []byte, withJSON bool) map[string]string {
	t.Helper()
	s, warnings, err := Parse(input)
	got := map[string]string{"warnings": lines(warnings)}
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		got["errors"] = lines(ve.Errors)
		if len(ve.Errors) == 0 {
			t.Error("ValidationError without errors")
		}
	case err != nil:
		t.Fatalf("Parse returned %T %v, want nil or *ValidationError", err, err)
	default:
		var b bytes.Buffer
		WriteSummary(&b, s)
		got["summary"] = b.String()
		out := roundTrip(t, s)
		if withJSON {
			got["effective.json"] = string(out) + "\n"
		}
	}
	for _, d := range append(warnings, validationErrors(err)...) {
		if d.Path == "" || d.Message == "" {
			t.Errorf("diagnostic without path or message: %#v", d)
		}
	}
	return got
}

// roundTrip checks that the effective JSON parses back to the same Service
// with no error, and returns it.
func roundTrip(t testing.TB, s *Service) []byte {
	t.Helper()
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatalf("marshal effective service: %v", err)
	}
	s2, _, err := Parse(out)
	if err != nil {
		t.Fatalf("effective JSON does not parse back: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(s, s2) {
		t.Fatalf("effective JSON parses back to a different service\nfirst:  %#v\nsecond: %#v\njson: %s", s, s2, out)
	}
	return out
}

func validationErrors(err error) []Diagnostic {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Errors
	}
	return nil
}

func lines(ds []Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func section(ar *txtar.Archive, name string) ([]byte, bool) {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return nil, false
}

func hasSection(ar *txtar.Archive, name string) bool {
	_, ok := section(ar, name)
	return ok
}

func writeGolden(t *testing.T, file string, ar *txtar.Archive, got map[string]string) {
	input, _ := section(ar, "service.json")
	out := &txtar.Archive{Comment: ar.Comment, Files: []txtar.File{{Name: "service.json", Data: input}}}
	for _, name := range []string{"summary", "errors", "warnings", "effective.json"} {
		if got[name] != "" {
			out.Files = append(out.Files, txtar.File{Name: name, Data: []byte(got[name])})
		}
	}
	if err := os.WriteFile(file, txtar.Format(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
