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
}

func (d *diagnostics) errorf(path, format string, args ...any) {
	d.errors = append(d.errors, Diagnostic{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *diagnostics) warnf(path, format string, args ...any) {
	d.warnings = append(d.warnings, Diagnostic{Path: path, Message: fmt.Sprintf(format, args...)})
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
