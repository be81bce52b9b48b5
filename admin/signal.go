package admin

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal accepts a signal as users write it ("SIGKILL", "KILL",
// "kill", "9") and returns its canonical name and number. The Server hands
// Controller.Kill the canonical name; the scheduler converts it back with
// ParseSignal.
func ParseSignal(s string) (string, syscall.Signal, error) {
	in := strings.TrimSpace(s)
	if n, err := strconv.Atoi(in); err == nil {
		sig := syscall.Signal(n)
		if name := unix.SignalName(sig); name != "" {
			return name, sig, nil
		}
		return "", 0, Errorf(ErrInvalid, "signal %d is not a signal of this system; use a name such as SIGTERM or SIGKILL", n)
	}
	name := strings.ToUpper(in)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return name, sig, nil
	}
	return "", 0, Errorf(ErrInvalid, "%q is not a signal name; use one such as SIGTERM, SIGKILL, SIGINT or a number", s)
}
