// Package usage marks the errors that are a command-line mistake of the
// user (a missing argument, a bad flag value): cmd/easlocal prints them
// like any error and exits 2 instead of 1. The packages that read a
// command's arguments (control, completion, serve, setup) return them;
// only cmd/easlocal translates them into the exit status.
package usage
