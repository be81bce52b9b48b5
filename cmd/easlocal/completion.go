package main

// Shell completion. The scripts `easlocal completion SHELL` prints ask
// easlocal itself for the candidates, with urfave/cli's
// --generate-bash-completion: the words typed so far are run again with
// that flag appended, and the command's BashComplete prints one candidate
// per line instead of running. Commands and flags come from the CLI
// definition; service and instance names from the registry and the
// running services' control APIs.

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "completion",
		Category:  categorySetup,
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: "Completes commands, flags, and the names of running services and their\n" +
			"instances (`easlocal kill <TAB>` offers demo-0, demo-1, ...).\n\n" +
			"Examples:\n" +
			"   source <(easlocal completion bash)                      # this bash session\n" +
			"   easlocal completion bash > /etc/bash_completion.d/easlocal\n" +
			"   source <(easlocal completion zsh)                       # after compinit\n" +
			"   easlocal completion fish > ~/.config/fish/completions/easlocal.fish",
		BashComplete: func(c *cli.Context) {
			if c.NArg() == 0 {
				fmt.Fprintln(c.App.Writer, "bash\nzsh\nfish")
			}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{fmt.Errorf("completion needs a shell: easlocal completion bash|zsh|fish")}
			}
			script, ok := completionScripts[c.Args().First()]
			if !ok {
				return usageError{fmt.Errorf("completion: no script for %q; use bash, zsh or fish", c.Args().First())}
			}
			_, err := io.WriteString(c.App.Writer, script)
			return err
		},
	})
}

// The scripts never run easlocal for a line that holds "--": after it
// urfave/cli does not treat --generate-bash-completion as the completion
// flag, so `easlocal run x.json -- <TAB>` would start the service.
var completionScripts = map[string]string{
	"bash": `# bash completion for easlocal: source <(easlocal completion bash)
_easlocal_complete() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local words=("${COMP_WORDS[@]:0:COMP_CWORD}") w
	for w in "${words[@]:1}"; do
		[[ $w == -- ]] && return 0
	done
	local IFS=$'\n' candidates
	if [[ $cur == -* ]]; then
		candidates=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		candidates=$("${words[@]}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F _easlocal_complete easlocal
`,
	"zsh": `#compdef easlocal
# zsh completion for easlocal: source <(easlocal completion zsh) after compinit
_easlocal() {
	local -a before candidates
	before=("${(@)words[1,CURRENT-1]}")
	if (( ${before[(Ie)--]} )); then
		_files
		return
	fi
	local cur=${words[CURRENT]}
	if [[ $cur == -* ]]; then
		candidates=("${(@f)$("${before[@]}" "$cur" --generate-bash-completion 2>/dev/null)}")
	else
		candidates=("${(@f)$("${before[@]}" --generate-bash-completion 2>/dev/null)}")
	fi
	if [[ -n ${candidates[1]} ]]; then
		compadd -a candidates
	else
		_files
	fi
}
compdef _easlocal easlocal
`,
	"fish": `# fish completion for easlocal: easlocal completion fish > ~/.config/fish/completions/easlocal.fish
function __easlocal_complete
	set -l words (commandline -opc)
	set -l cur (commandline -ct)
	set -l out
	if not contains -- -- $words[2..-1]
		if string match -q -- '-*' $cur
			set out ($words $cur --generate-bash-completion 2>/dev/null)
		else
			set out ($words --generate-bash-completion 2>/dev/null)
		end
	end
	if test (count $out) -gt 0
		printf '%s\n' $out
	else
		__fish_complete_path $cur
	end
end
complete -c easlocal -f -a '(__easlocal_complete)'
`,
}

// completeTimeout bounds the questions to running services, so a stuck
// service never hangs the shell.
const completeTimeout = 2 * time.Second

// addCompletions gives the commands that take SERVICE or INSTANCE
// arguments their completion of running names, and every other command
// without its own the completion of its flags only: urfave/cli's default
// offers the "help" subcommand where a file belongs (up FILE).
func addCompletions(cmds []*cli.Command) {
	for _, cmd := range cmds {
		switch cmd.Name {
		case "ps", "endpoints", "events", "down", "scale":
			cmd.BashComplete = completeNames(cmd, false)
		case "kill", "pause", "unpause", "logs":
			cmd.BashComplete = completeNames(cmd, true)
		default:
			if cmd.BashComplete == nil {
				cmd.BashComplete = completeFlags(cmd)
			}
		}
	}
}

// completingFlag reports whether the word being completed is a flag;
// urfave/cli finds it in os.Args, as its own completion does.
func completingFlag() bool {
	n := len(os.Args)
	return n > 2 && strings.HasPrefix(os.Args[n-2], "-")
}

// completeFlags prints cmd's flags when a flag is being completed, and
// nothing otherwise, so the shell completes file names.
func completeFlags(cmd *cli.Command) cli.BashCompleteFunc {
	flags := cli.DefaultCompleteWithFlags(cmd)
	return func(c *cli.Context) {
		if completingFlag() {
			flags(c)
		}
	}
}

// completeNames prints the names that fit the next positional argument:
// a service first (or, when only one runs, also its instances, as the
// service may be left out), then an instance of the service named.
func completeNames(cmd *cli.Command, instances bool) cli.BashCompleteFunc {
	flagsOnly := cli.DefaultCompleteWithFlags(cmd)
	return func(c *cli.Context) {
		if completingFlag() {
			flagsOnly(c)
			return
		}
		reg := registry(c)
		running, err := reg.List()
		if err != nil {
			return
		}
		w := c.App.Writer
		pos := positional(cmd, c.Args().Slice())
		switch {
		case len(pos) == 0:
			for _, e := range running {
				fmt.Fprintln(w, e.Name)
			}
			if instances && len(running) == 1 {
				printInstances(c.Context, w, reg, running[0])
			}
		case len(pos) == 1 && instances:
			for _, e := range running {
				if e.Name == pos[0] {
					printInstances(c.Context, w, reg, e)
				}
			}
		}
	}
}

func printInstances(ctx context.Context, w io.Writer, reg admin.Registry, e admin.Entry) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	st, err := admin.NewDriver(reg, e).Status(ctx)
	if err != nil {
		return
	}
	for _, in := range st.Instances {
		fmt.Fprintln(w, in.Name)
	}
}

// positional drops flags (and the values of flags that take one) from
// args, which urfave/cli leaves unparsed after the first argument.
func positional(cmd *cli.Command, args []string) []string {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fl := findFlag(cmd.Flags, name); fl != nil && !hasVal {
			if _, isBool := fl.(*cli.BoolFlag); !isBool {
				i++
			}
		}
	}
	return pos
}
