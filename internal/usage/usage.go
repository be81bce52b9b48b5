// Package usage marks the errors that are a command-line mistake of the
// user (a missing argument, a bad flag value): cmd/easlocal prints them
// like any error and exits 2 instead of 1. The packages that read a
// command's arguments (control, completion, serve, setup) return them;
// only cmd/easlocal translates them into the exit status.
package usage

import (
	"errors"
	"fmt"
)

// Error is a command-line mistake; its text says what to write instead.
type Error struct{ Err error }

func (e Error) Error() string { return e.Err.Error() }
func (e Error) Unwrap() error { return e.Err }

// Errorf is a usage error formatted as fmt.Errorf does (with %w).
func Errorf(format string, a ...any) error { return Error{Err: fmt.Errorf(format, a...)} }

// Wrap marks err as a usage error; nil stays nil.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return Error{Err: err}
}

// Is reports whether err, or an error it wraps, is a usage error.
func Is(err error) bool {
	var ue Error
	return errors.As(err, &ue)
}
