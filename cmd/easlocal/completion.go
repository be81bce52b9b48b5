package main

// Shell completion (package completion): `easlocal completion SHELL`,
// and each command's BashComplete, which prints one candidate per line
// when a script runs easlocal with --generate-bash-completion.

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/easlocal/easlocal/completion"
	"github.com/easlocal/easlocal/internal/usage"
	"github.com/urfave/cli/v2"
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
				fmt.Fprintln(c.App.Writer, strings.Join(completion.Shells, "\n"))
			}
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usage.Errorf("completion needs a shell: easlocal completion bash|zsh|fish")
			}
			script, ok := completion.Script(c.Args().First())
			if !ok {
				return usage.Errorf("completion: no script for %q; use bash, zsh or fish", c.Args().First())
			}
			_, err := io.WriteString(c.App.Writer, script)
			return err
		},
	})
}

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

// completeNames prints the running services and, if the command takes
// them, their instances that fit the next positional argument.
func completeNames(cmd *cli.Command, instances bool) cli.BashCompleteFunc {
	flagsOnly := cli.DefaultCompleteWithFlags(cmd)
	return func(c *cli.Context) {
		if completingFlag() {
			flagsOnly(c)
			return
		}
		completion.Names(c.Context, c.App.Writer, registry(c), c.Args().Slice(), lookup(cmd.Flags), instances)
	}
}
