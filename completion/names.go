package completion

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// timeout bounds the questions to running services, so a stuck service
// never hangs the shell.
const timeout = 2 * time.Second

// Lookup says whether name is a flag of the command being completed, and
// whether it is a boolean one (which takes no value).
type Lookup func(name string) (ok, isBool bool)

// Names prints the names that fit the next positional argument of a
// command whose arguments so far are args: a service first (or, when
// only one runs, also its instances, as the service may be left out),
// then, if the command takes instances, an instance of the service named.
func Names(ctx context.Context, w io.Writer, reg admin.Registry, args []string, flags Lookup, instances bool) {
	running, err := reg.List()
	if err != nil {
		return
	}
	pos := Positional(args, flags)
	switch {
	case len(pos) == 0:
		for _, e := range running {
			fmt.Fprintln(w, e.Name)
		}
		if instances && len(running) == 1 {
			printInstances(ctx, w, reg, running[0])
		}
	case len(pos) == 1 && instances:
		for _, e := range running {
			if e.Name == pos[0] {
				printInstances(ctx, w, reg, e)
			}
		}
	}
}

func printInstances(ctx context.Context, w io.Writer, reg admin.Registry, e admin.Entry) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := admin.NewDriver(reg, e).Status(ctx)
	if err != nil {
		return
	}
	for _, in := range st.Instances {
		fmt.Fprintln(w, in.Name)
	}
}

// Positional drops flags (and the values of flags that take one) from
// args, which urfave/cli leaves unparsed after the first argument.
func Positional(args []string, flags Lookup) []string {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if ok, isBool := flags(name); ok && !hasVal && !isBool {
			i++
		}
	}
	return pos
}

// Takes says whether command cmd takes the name of a running service
// (which Names completes), and whether also that of an instance.
func Takes(cmd string) (service, instance bool) {
	switch cmd {
	case "ps", "endpoints", "events", "down", "scale":
		return true, false
	case "kill", "pause", "unpause", "logs":
		return true, true
	}
	return false, false
}
