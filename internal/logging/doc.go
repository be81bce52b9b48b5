// Package logging configures easlocal's global zerolog logger from the
// global flags --log-level and --log-format: console lines coloured only
// on a terminal and without NO_COLOR, or JSON lines.
package logging
