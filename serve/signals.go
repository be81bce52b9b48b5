package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Abandon is what up, run and test say when a second signal ends them
// during the teardown.
const Abandon = "stopped without finishing the teardown; `easlocal down` removes what is left"

// ExitAbandoned is the exit status when a second signal ends the process
// during teardown: 128 + SIGINT, as a shell reports an interrupted
// command.
const ExitAbandoned = 130

// Interrupts returns a context cancelled by Ctrl-C, SIGTERM or SIGHUP (a
// closed terminal), so each of them tears the service down rather than
// killing easlocal and leaving instances behind. SIGPIPE is ignored:
// writing to a closed stdout (`easlocal up | head`) then fails instead of
// killing us.
//
// Once the teardown has begun (the first signal, or tearingDown called
// when it began otherwise) the next signal ends the process at once,
// saying so (abandon) on errw: the teardown is abandoned, and what it had
// not removed yet stays as after a crash, registered, so one `easlocal
// down` removes it. stop ends the signal handling.
func Interrupts(parent context.Context, errw io.Writer, abandon string) (ctx context.Context, tearingDown func(), stop func()) {
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	begun := make(chan struct{})
	var beginOnce sync.Once
	tearingDown = func() { beginOnce.Do(func() { close(begun) }) }
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-begun:
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(errw, "easlocal: %s again: %s\n", sig, abandon)
			os.Exit(ExitAbandoned)
		case <-done:
		}
	}()
	var stopOnce sync.Once
	stop = func() {
		stopOnce.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
	return ctx, tearingDown, stop
}
