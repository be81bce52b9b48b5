package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Whole lines get the prefix; a partial line waits for its newline, and
// Flush writes a last line that never got one.
func TestPrefixWriterLines(t *testing.T) {
	var out bytes.Buffer
	w := newPrefixWriter(&out, "demo-0 | ")
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	if got, want := out.String(), "demo-0 | one\ndemo-0 | two\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	w.Flush()
	if got := out.String(); !strings.HasSuffix(got, "demo-0 | three\n") {
		t.Fatalf("Flush did not write the partial last line: %q", got)
	}
	w.Flush() // nothing held: nothing written
	if strings.Count(out.String(), "three") != 1 {
		t.Fatalf("second Flush wrote again: %q", out.String())
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) { f.n++; return 0, errors.New("EIO") }

// When the terminal is gone the writer reports it and holds nothing, so
// memory does not grow while containers keep logging.
func TestPrefixWriterFailingOut(t *testing.T) {
	fw := &failingWriter{}
	w := newPrefixWriter(fw, "x | ")
	if _, err := w.Write([]byte("a\nb\nc\npartial")); err == nil {
		t.Fatal("a failing output was not reported")
	}
	if len(w.buf) != 0 {
		t.Fatalf("held %d bytes after the output failed", len(w.buf))
	}
}

// countingOut counts the writes it gets.
type countingOut struct {
	bytes.Buffer
	writes int
}

func (c *countingOut) Write(p []byte) (int, error) { c.writes++; return c.Buffer.Write(p) }

// The whole lines of one chunk (a batch from the runtime) go out in one
// write, each with its prefix, and Write reports the whole chunk taken.
func TestPrefixWriterBatch(t *testing.T) {
	out := &countingOut{}
	w := newPrefixWriter(out, "p | ")
	w.Write([]byte("a"))
	chunk := []byte("b\nc\nd\ne")
	if n, err := w.Write(chunk); n != len(chunk) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(chunk))
	}
	if got, want := out.String(), "p | ab\np | c\np | d\n"; got != want || out.writes != 1 {
		t.Fatalf("got %q in %d writes, want %q in 1", got, out.writes, want)
	}
}
