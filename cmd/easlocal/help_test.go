package main

import (
	"strings"
	"testing"
)

// Every command's --help has a usage line, says what it does and shows
// an example; `easlocal --help` groups the commands and shows a first run.
func TestHelpForEveryCommand(t *testing.T) {
	app := newApp()
	for _, cmd := range app.Commands {
		if cmd.Hidden {
			continue
		}
		out, errOut, code := runCLI(t, cmd.Name, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", cmd.Name, code, errOut)
			continue
		}
		for _, want := range []string{"USAGE:\n   easlocal " + cmd.Name, "DESCRIPTION:", "Example", "easlocal " + cmd.Name + " "} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help lacks %q:\n%s", cmd.Name, want, out)
			}
		}
		if cmd.Category == "" {
			t.Errorf("%s has no category in `easlocal --help`", cmd.Name)
		}
		// urfave/cli makes a backquoted phrase of the usage the flag's
		// placeholder: it must be one word ("--listen ADDR").
		for _, fl := range cmd.Flags {
			head, _, _ := strings.Cut(fl.String(), "\t")
			for _, alias := range strings.Split(head, ", ") {
				if f := strings.Fields(alias); len(f) > 2 && !strings.Contains(alias, "[") {
					t.Errorf("%s: flag placeholder %q is not one word", cmd.Name, alias)
				}
			}
		}
	}
	out, _, code := runCLI(t, "--help")
	for _, want := range []string{categoryRun + ":", categoryControl + ":", categorySetup + ":", "A first run:", "easlocal up -d examples/demo/service.json", "NO_COLOR"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("easlocal --help lacks %q:\n%s", want, out)
		}
	}
}
