package service

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Diagnostic is one problem found in a service.json. Path names the field
// (e.g. "containers[0].liveness_check.period_seconds", or rootPath for the
// file as a whole); Message says what is wrong and how to fix it.
type Diagnostic struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// String gives "path: message", the form validate prints.
func (d Diagnostic) String() string { return d.Path + ": " + d.Message }

// ValidationError lists every error of an invalid service.json.
type ValidationError struct {
	Errors []Diagnostic
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 1 {
		return "invalid service.json: " + e.Errors[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid service.json (%d errors):", len(e.Errors))
	for _, d := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// rootPath names the document itself in diagnostics about the whole file.
const rootPath = "(top level)"

// MaxFileSize bounds what Load reads: a service.json is a few KB. Parse
// itself takes any size, so the --json output of any valid input (which
// indentation makes larger) parses back.
const MaxFileSize = 10 << 20

// Parse decodes and validates a service.json and fills every default (see
// doc.go). It always returns the warnings. When the file is invalid, err is
// a *ValidationError listing every error, and the returned Service (when
// not nil) is only as complete as the input allowed: do not run it.
func Parse(data []byte) (*Service, []Diagnostic, error) {
	var d diagnostics
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	tree := parseTree(data, &d)
	if tree == nil {
		return nil, d.warnings, d.err()
	}
	if tree.kind == kindObject {
		normalizeKeys(tree, &d)
	}
	s := &Service{}
	dec := &decoder{diags: &d, seen: map[string]bool{}, bad: map[string]bool{}}
	dec.decodeRoot(tree, s)
	v := &validator{diags: &d, seen: dec.seen, bad: dec.bad}
	v.service(s)
	return s, d.warnings, d.err()
}

// Load reads and parses the file at path; "-" reads standard input.
func Load(path string) (*Service, []Diagnostic, error) {
	var (
		data []byte
		err  error
	)
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, MaxFileSize+1))
	} else {
		var f *os.File
		f, err = os.Open(path)
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(f, MaxFileSize+1))
			f.Close()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the service file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, nil, &ValidationError{Errors: []Diagnostic{{Path: rootPath,
			Message: fmt.Sprintf("the file is larger than %d bytes, far more than a service.json needs; is this the right file?", MaxFileSize)}}}
	}
	return Parse(data)
}

// diagnostics collects errors and warnings in the order they are found.
type diagnostics struct {
	errors, warnings []Diagnostic
	// written maps a model path to the path the user wrote when they
	// differ (a dotted key, an alias): metadata.name -> name. Diagnostics
	// are given model paths and shown with the user's.
	written map[string]string
}

func (d *diagnostics) errorf(path, format string, args ...any) {
	d.errors = append(d.errors, Diagnostic{Path: d.userPath(path), Message: fmt.Sprintf(format, args...)})
}

func (d *diagnostics) warnf(path, format string, args ...any) {
	d.warnings = append(d.warnings, Diagnostic{Path: d.userPath(path), Message: fmt.Sprintf(format, args...)})
}

// errorAt reports at a path that is already the user's.
func (d *diagnostics) errorAt(userPath, format string, args ...any) {
	d.errors = append(d.errors, Diagnostic{Path: userPath, Message: fmt.Sprintf(format, args...)})
}

// noteWritten records where the value at model path p was written.
func (d *diagnostics) noteWritten(p string, n *node) {
	if n.path == "" || n.path == p {
		return
	}
	if d.written == nil {
		d.written = map[string]string{}
	}
	d.written[p] = n.path
}

// userPath rewrites the longest recorded prefix of a model path (at a
// "." or "[" boundary) to what the user wrote.
func (d *diagnostics) userPath(p string) string {
	if len(d.written) == 0 {
		return p
	}
	for i := len(p); i > 0; {
		if w, ok := d.written[p[:i]]; ok {
			return w + p[i:]
		}
		i = strings.LastIndexAny(p[:i], ".[")
	}
	return p
}

func (d *diagnostics) err() error {
	if len(d.errors) == 0 {
		return nil
	}
	return &ValidationError{Errors: d.errors}
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldPath appends an object key: "metadata" + "name" = "metadata.name".
// Keys that would be ambiguous in that form are quoted: metadata["a b"].
func fieldPath(parent, key string) string {
	if !plainKey.MatchString(key) {
		return parentPrefix(parent) + "[" + strconv.Quote(key) + "]"
	}
	if parent == rootPath {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parentPrefix(parent) + "[" + strconv.Itoa(i) + "]"
}

func parentPrefix(parent string) string {
	if parent == rootPath {
		return "$"
	}
	return parent
}
