package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/control"
)

const faultUsage = "[SERVICE] INSTANCE|all blackhole|reject|loss 30%|bandwidth 1mbit|http-delay 200ms|http-abort 503|http-abort reset|kill|pause|exit [--for 30s] [--first N] [--percent P]"

func init() {
	cmd := &cli.Command{
		Name:     "fault",
		Category: categoryControl,
		Usage:    "inject a fault into a running service's instance (network, HTTP, kill, pause, exit)",
		Description: "Network faults act inside the instance's network namespace: blackhole drops every packet, reject refuses\n" +
			"connections, loss drops a share of packets, bandwidth limits what it sends. HTTP faults act in the gateway,\n" +
			"for one instance or (INSTANCE all) every one: http-delay adds latency, http-abort answers a status or resets\n" +
			"the connection. kill crashes it, pause freezes it, exit makes its app end itself. Every fault is reverted\n" +
			"after --for, by `easlocal fault clear`, or when the service stops.\n\n" +
			"Example: easlocal fault demo-1 loss 30% --for 20s",
		ArgsUsage: faultUsage,
		Flags: ctlFlags(
			&cli.DurationFlag{Name: "for", Usage: "revert the fault after this long (default: until cleared)"},
			&cli.IntFlag{Name: "first", Usage: "HTTP faults: only the first N requests"},
			&cli.IntFlag{Name: "percent", Usage: "HTTP faults: the share of requests hit (default all); loss: the share of packets"}),
		Action: faultAction,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the active faults",
				ArgsUsage: "[SERVICE]",
				Flags:     ctlFlags(jsonFlag),
				Action: func(c *cli.Context) error {
					inheritRegistry(c)
					d, _, err := target(c, 0, "[SERVICE]")
					if err != nil {
						return err
					}
					return control.Faults(c.Context, d, c.Bool("json"), c.App.Writer)
				},
			},
			{
				Name:      "clear",
				Usage:     "revert one fault (ID from `easlocal fault list`) or every fault",
				ArgsUsage: "[SERVICE] [ID]",
				Flags:     ctlFlags(),
				Action:    faultClearAction,
			},
		},
	}
	for _, c := range append(cmd.Subcommands, cmd) {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	commands = append(commands, cmd)
}

// inheritRegistry lets `easlocal fault --registry-dir D list` (the flag
// before the subcommand) mean the same as after it.
func inheritRegistry(c *cli.Context) {
	if c.IsSet("registry-dir") {
		return
	}
	for _, p := range c.Lineage()[1:] {
		if p.IsSet("registry-dir") {
			c.Set("registry-dir", p.String("registry-dir"))
			return
		}
	}
}

func faultAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	service, f, err := parseFault(args)
	if err != nil {
		return usageError{err}
	}
	f.For = c.Duration("for")
	if c.IsSet("first") {
		f.First = c.Int("first")
	}
	if c.IsSet("percent") {
		f.Percent = c.Int("percent")
	}
	if err := f.Validate(); err != nil {
		return usageError{err}
	}
	d, err := admin.Find(registry(c), service)
	if err != nil {
		return err
	}
	return control.InjectFault(c.Context, d, f, c.App.Writer)
}

// parseFault reads [SERVICE] INSTANCE|all KIND [VALUE].
func parseFault(args []string) (service string, f admin.Fault, err error) {
	k := slices.IndexFunc(args, func(a string) bool {
		return slices.Contains(admin.FaultKinds, strings.ReplaceAll(strings.ToLower(a), "_", "-"))
	})
	if k < 1 || k > 2 {
		return "", f, fmt.Errorf("usage: easlocal fault %s", faultUsage)
	}
	if k == 2 {
		service = args[0]
	}
	f.Instance = args[k-1]
	if f.Instance == "all" {
		f.Instance = ""
	}
	f.Kind = strings.ReplaceAll(strings.ToLower(args[k]), "_", "-")
	rest := args[k+1:]
	value := ""
	if len(rest) > 1 {
		return "", f, fmt.Errorf("fault %s: unexpected %q; usage: easlocal fault %s", f.Kind, strings.Join(rest[1:], " "), faultUsage)
	}
	if len(rest) == 1 {
		value = rest[0]
	}
	needs := map[string]string{admin.FaultLoss: "a percentage, e.g. 30%", admin.FaultBandwidth: "a rate, e.g. 1mbit",
		admin.FaultHTTPDelay: "a delay, e.g. 200ms", admin.FaultHTTPAbort: "a status, e.g. 503, or reset"}
	want, takes := needs[f.Kind]
	switch {
	case !takes && value != "":
		return "", f, fmt.Errorf("fault %s takes no value, got %q", f.Kind, value)
	case takes && value == "" && f.Kind != admin.FaultLoss:
		return "", f, fmt.Errorf("fault %s needs %s", f.Kind, want)
	}
	switch f.Kind {
	case admin.FaultLoss:
		if value != "" {
			if f.Percent, err = strconv.Atoi(strings.TrimSuffix(value, "%")); err != nil {
				return "", f, fmt.Errorf("loss %q: give a percentage, e.g. 30%%", value)
			}
		}
	case admin.FaultBandwidth:
		f.Rate = value
	case admin.FaultHTTPDelay:
		if f.Delay, err = time.ParseDuration(value); err != nil {
			return "", f, fmt.Errorf("http-delay %q: give a duration, e.g. 200ms", value)
		}
	case admin.FaultHTTPAbort:
		if value == "reset" {
			f.Reset = true
		} else if f.Status, err = strconv.Atoi(value); err != nil {
			return "", f, fmt.Errorf("http-abort %q: give a status, e.g. 503, or reset", value)
		}
	}
	return service, f, nil
}

func faultClearAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 2 {
		return usageError{fmt.Errorf("usage: easlocal fault clear [SERVICE] [ID]")}
	}
	inheritRegistry(c)
	reg := registry(c)
	service, id := "", ""
	switch len(args) {
	case 2:
		service, id = args[0], args[1]
	case 1:
		// A running service's name, or else a fault of the only one.
		if _, err := reg.Lookup(args[0]); err == nil {
			service = args[0]
		} else {
			id = args[0]
		}
	}
	d, err := admin.Find(reg, service)
	if err != nil {
		return err
	}
	return control.ClearFaults(c.Context, d, id, c.App.Writer)
}
