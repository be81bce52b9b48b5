package control

// The command line of the control commands. Each takes a maximum number
// of positional arguments, the first of which is SERVICE. When the count
// equals the maximum, the first argument is the service; with one fewer
// it was left out, and the only running service is meant. (`logs` and
// `fault clear` have only optional arguments: there a single argument is
// the service if a service of that name runs, otherwise an instance or a
// fault.)

import (
	"errors"
	"strconv"
	"strings"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/usage"
)

// Flags is what SplitArgs needs of a command's flags.
type Flags interface {
	// Lookup says whether name is a flag of the command, and whether it
	// is a boolean one (which takes no separate value).
	Lookup(name string) (ok, isBool bool)
	// Set gives flag name the value val.
	Set(name, val string) error
}

// ErrHelp is SplitArgs's answer to -h or --help among the arguments.
var ErrHelp = errors.New("help requested")

// SplitArgs returns the positional arguments of args and sets, in order,
// the flags written among them (`easlocal kill demo-1 --signal TERM`):
// the command-line parser stops reading flags at the first positional
// argument. A number ("-1") is an argument; everything after "--" is. An
// unknown flag, a missing value or a value Set refuses is a usage error.
func SplitArgs(args []string, flags Flags) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if _, err := strconv.Atoi(a); err == nil || len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			return nil, ErrHelp
		}
		ok, isBool := flags.Lookup(name)
		if !ok {
			return nil, usage.Errorf("flag provided but not defined: %s", a)
		}
		if isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, usage.Errorf("flag needs an argument: %s", a)
			}
			i++
			val = args[i]
		}
		if err := flags.Set(name, val); err != nil {
			return nil, usage.Errorf("invalid value %q for flag %s: %w", val, a, err)
		}
	}
	return pos, nil
}

// Target resolves the service of command cmd, which takes [SERVICE] and
// want more arguments (names spells them for the usage line), and returns
// the arguments after the service.
func Target(reg admin.Registry, cmd string, args []string, want int, names string) (*admin.Driver, []string, error) {
	if len(args) < want || len(args) > want+1 {
		return nil, nil, usage.Errorf("usage: easlocal %s %s", cmd, names)
	}
	name := ""
	if len(args) == want+1 {
		name, args = args[0], args[1:]
	}
	d, err := admin.Find(reg, name)
	return d, args, err
}

// serviceOr resolves [SERVICE] [OTHER] of logs and fault clear: with one
// argument, a service if one of that name is registered (get), else
// OTHER of the only running service.
func serviceOr(reg admin.Registry, args []string, get func(string) (admin.Entry, error), usageLine string) (*admin.Driver, string, error) {
	if len(args) > 2 {
		return nil, "", usage.Errorf("usage: easlocal %s", usageLine)
	}
	name, other := "", ""
	switch len(args) {
	case 2:
		name, other = args[0], args[1]
	case 1:
		if _, err := get(args[0]); err == nil {
			name = args[0]
		} else {
			other = args[0]
		}
	}
	d, err := admin.Find(reg, name)
	return d, other, err
}
