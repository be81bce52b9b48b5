package main

// Shell completion (package completion): `easlocal completion SHELL`,
// and each command's BashComplete, which prints one candidate per line
// when a script runs easlocal with --generate-bash-completion.

import (
	"fmt"
	"os"
	"strings"

	"github.com/easlocal/easlocal/completion"
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
		Action: func(c *cli.Context) error { return completion.Write(c.App.Writer, c.Args().Slice()) },
	})
}

// addCompletions gives the commands that take SERVICE or INSTANCE
// arguments their completion of running names, and every other command
// without its own the completion of its flags only: urfave/cli's default
// offers the "help" subcommand where a file belongs (up FILE).
func addCompletions(cmds []*cli.Command) {
	for _, cmd := range cmds {
		if names, instances := completion.Takes(cmd.Name); names || cmd.BashComplete == nil {
			cmd.BashComplete = complete(cmd, names, instances)
		}
	}
}

// complete prints cmd's flags when a flag is being completed (urfave/cli
// finds it in os.Args, as its own completion does); otherwise the running
// names that fit, or nothing, so the shell completes file names.
func complete(cmd *cli.Command, names, instances bool) cli.BashCompleteFunc {
	flags := cli.DefaultCompleteWithFlags(cmd)
	return func(c *cli.Context) {
		if n := len(os.Args); n > 2 && strings.HasPrefix(os.Args[n-2], "-") {
			flags(c)
		} else if names {
			completion.Names(c.Context, c.App.Writer, registry(c), c.Args().Slice(), lookup(cmd.Flags), instances)
		}
	}
}
