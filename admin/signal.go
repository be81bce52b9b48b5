package admin

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ParseSignal accepts a signal as users write it ("SIGKILL", "KILL",
// "kill", "9") and returns its canonical name and number. It is the one
// place a signal is parsed: the CLI checks the flag with it and the Server
// hands Controller.Kill the number. A bad signal is
// errdefs.ErrInvalidArgument.
func ParseSignal(s string) (string, syscall.Signal, error) {
	in := strings.TrimSpace(s)
	if n, err := strconv.Atoi(in); err == nil {
		sig := syscall.Signal(n)
		if name := unix.SignalName(sig); name != "" {
			return name, sig, nil
		}
		return "", 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("signal %d is not a signal of this system; use a name such as SIGTERM or SIGKILL", n))
	}
	name := strings.ToUpper(in)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return name, sig, nil
	}
	return "", 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q is not a signal name; use one such as SIGTERM, SIGKILL, SIGINT or a number", s))
}
