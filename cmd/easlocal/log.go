package main

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
)

// setupLogging configures the global zerolog logger from the global flags.
func setupLogging(level, format string, w io.Writer) error {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	zerolog.SetGlobalLevel(lvl)
	switch format {
	case "json":
		log.Logger = zerolog.New(w).With().Timestamp().Logger()
	case "console":
		log.Logger = zerolog.New(zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	default:
		return usageError{fmt.Errorf("--log-format %q: use console or json", format)}
	}
	return nil
}
