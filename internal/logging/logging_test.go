package logging

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog/log"
	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controlling side and its terminal.
func openPTY(t *testing.T) (ptm, tty *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty's terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptm, tty
}

// logLine sets up console logging to w as the CLI does, logs one warning
// and restores the logger.
func logLine(t *testing.T, w *os.File) {
	t.Helper()
	saved := log.Logger
	t.Cleanup(func() { log.Logger = saved })
	if err := Setup("warn", "console", w); err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("instance", "demo-0").Msg("probe failed")
}

// readPTY reads what the terminal side received.
func readPTY(t *testing.T, ptm *os.File) string {
	t.Helper()
	ptm.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := ptm.Read(b)
	if err != nil {
		t.Fatalf("read the pty: %v", err)
	}
	return string(b[:n])
}

// Console logs are coloured on a terminal, not when NO_COLOR is set, and
// never in a file or pipe (the log file of `up -d`).
func TestLogColour(t *testing.T) {
	ptm, tty := openPTY(t)
	t.Setenv("NO_COLOR", "")
	logLine(t, tty)
	if got := readPTY(t, ptm); !strings.Contains(got, "\x1b[") {
		t.Errorf("on a terminal: %q, want ANSI colours", got)
	}

	t.Setenv("NO_COLOR", "1")
	logLine(t, tty)
	if got := readPTY(t, ptm); strings.Contains(got, "\x1b[") || !strings.Contains(got, "probe failed") {
		t.Errorf("with NO_COLOR=1: %q, want the line without colours", got)
	}

	t.Setenv("NO_COLOR", "")
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logLine(t, f)
	b, _ := os.ReadFile(f.Name())
	if bytes.Contains(b, []byte("\x1b[")) || !bytes.Contains(b, []byte("probe failed")) {
		t.Errorf("in a file: %q, want the line without colours", b)
	}
}
