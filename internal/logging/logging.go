package logging

import (
	"io"
	"os"
	"time"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
	"golang.org/x/sys/unix"
)

// Setup configures the global zerolog logger to write to w; a bad level
// or format is a usage error.
func Setup(level, format string, w io.Writer) error {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return usage.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	zerolog.SetGlobalLevel(lvl)
	switch format {
	case "json":
		log.Logger = zerolog.New(w).With().Timestamp().Logger()
	case "console":
		log.Logger = zerolog.New(zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !colour(w)}).With().Timestamp().Logger()
	default:
		return usage.Errorf("--log-format %q: use console or json", format)
	}
	return nil
}

// colour reports whether log lines to w may carry ANSI colours: only on a
// terminal (not in `up -d`'s log file or a pipe), and never when NO_COLOR
// is set to anything but "" (https://no-color.org).
func colour(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
