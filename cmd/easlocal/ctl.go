package main

// The commands that watch and break a running service through its control
// API (package admin): ps, endpoints, events, logs, kill, pause, unpause,
// scale, down. The service is found in the registry by name; the name may
// be left out when exactly one service runs.
//
// Positional rule: each command has a maximum number of arguments, the
// first of which is SERVICE. When the count equals the maximum, the first
// argument is the service; with one fewer it was left out. (`logs` has
// only optional arguments: there a single argument is the service if a
// service of that name runs, otherwise an instance.)

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/session"
	"github.com/urfave/cli/v2"
)

func init() {
	ctl := []*cli.Command{
		{
			Name:      "ps",
			Usage:     "list the instances of a running service and their containers",
			ArgsUsage: "[SERVICE]",
			Flags:     ctlFlags(jsonFlag),
			Action:    psAction,
		},
		{
			Name:      "endpoints",
			Usage:     "list the ready endpoints the gateway routes to",
			ArgsUsage: "[SERVICE]",
			Flags:     ctlFlags(jsonFlag),
			Action:    endpointsAction,
		},
		{
			Name:      "events",
			Usage:     "show what happened to a running service (probes, restarts, readiness)",
			ArgsUsage: "[SERVICE]",
			Flags: ctlFlags(jsonFlag,
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new events"}),
			Action: eventsAction,
		},
		{
			Name:      "logs",
			Usage:     "print the logs of a service's instances (all of them unless INSTANCE is given)",
			ArgsUsage: "[SERVICE] [INSTANCE]",
			Flags: ctlFlags(
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new output, across restarts"},
				&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "only this container (default: every container)"}),
			Action: logsAction,
		},
		{
			Name:      "kill",
			Usage:     "send a signal to an instance's containers (default SIGKILL: a crash)",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags: ctlFlags(
				&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "SIGKILL", Usage: "signal name or number"}),
			Action: killAction,
		},
		{
			Name:      "pause",
			Usage:     "freeze an instance: its probes time out and it leaves the rotation",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags:     ctlFlags(),
			Action: func(c *cli.Context) error {
				return instanceAction(c, (*admin.Client).Pause, "paused %s of service %s: its probes will now time out")
			},
		},
		{
			Name:      "unpause",
			Usage:     "thaw an instance frozen by pause",
			ArgsUsage: "[SERVICE] INSTANCE",
			Flags:     ctlFlags(),
			Action: func(c *cli.Context) error {
				return instanceAction(c, (*admin.Client).Unpause, "unpaused %s of service %s")
			},
		},
		{
			Name:      "scale",
			Usage:     "change the number of instances of a running service",
			ArgsUsage: "[SERVICE] N",
			Flags:     ctlFlags(),
			Action:    scaleAction,
		},
		{
			Name:      "down",
			Usage:     "stop a running service and remove its instances",
			ArgsUsage: "[SERVICE]",
			Flags: append(ctlFlags(
				&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for the service to stop"}),
				runtimeFlags()...),
			Action: downAction,
		},
	}
	for _, cmd := range ctl {
		cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	commands = append(commands, ctl...)
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (JSON lines for events)"}

// ctlFlags adds the hidden --registry-dir (tests, several registries).
func ctlFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{&cli.StringFlag{
		Name:    "registry-dir",
		Hidden:  true,
		EnvVars: []string{"EASLOCAL_REGISTRY_DIR"},
		Usage:   "directory of running services (default " + admin.DefaultRegistryDir + ")",
	}}, extra...)
}

// ctlArgs returns the positional arguments, applying flags written after
// them (`easlocal kill demo-1 --signal TERM`): urfave/cli v2 stops parsing
// flags at the first argument.
func ctlArgs(c *cli.Context) ([]string, error) {
	args := c.Args().Slice()
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
			cli.ShowCommandHelp(c, c.Command.Name)
			return nil, exitCode(0)
		}
		fl := findFlag(c.Command.Flags, name)
		if fl == nil {
			return nil, usageError{fmt.Errorf("flag provided but not defined: %s", a)}
		}
		if _, isBool := fl.(*cli.BoolFlag); isBool {
			if !hasVal {
				val = "true"
			}
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, usageError{fmt.Errorf("flag needs an argument: %s", a)}
			}
			i++
			val = args[i]
		}
		// Every alias has its own value in the flag set: set them all.
		for _, n := range fl.Names() {
			if err := c.Set(n, val); err != nil {
				return nil, usageError{fmt.Errorf("invalid value %q for flag %s: %w", val, a, err)}
			}
		}
	}
	return pos, nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// target resolves the service and returns the arguments after it, for a
// command taking [SERVICE] plus want more arguments (see the rule above).
func target(c *cli.Context, want int, names string) (admin.Entry, []string, error) {
	args, err := ctlArgs(c)
	if err != nil {
		return admin.Entry{}, nil, err
	}
	if len(args) < want || len(args) > want+1 {
		return admin.Entry{}, nil, usageError{fmt.Errorf("usage: easlocal %s %s", c.Command.Name, names)}
	}
	name := ""
	if len(args) == want+1 {
		name, args = args[0], args[1:]
	}
	e, err := registry(c).Lookup(name)
	return e, args, err
}

func registry(c *cli.Context) admin.Registry {
	return admin.Registry{Dir: c.String("registry-dir")}
}

func psAction(c *cli.Context) error {
	e, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	st, err := admin.NewClient(e).Status(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, st)
	}
	printStatus(c.App.Writer, st)
	return nil
}

// printStatus writes the ps table: one line per instance, then one per
// container, with why something is not well in the last column.
func printStatus(w io.Writer, st admin.ServiceStatus) {
	ready := 0
	for _, in := range st.Instances {
		if in.Ready {
			ready++
		}
	}
	fmt.Fprintf(w, "service %s: %d of %d instances ready (%d desired)", st.Name, ready, len(st.Instances), st.Desired)
	if st.GatewayURL != "" {
		fmt.Fprintf(w, ", gateway %s", st.GatewayURL)
	}
	fmt.Fprintln(w)
	if len(st.Instances) == 0 {
		fmt.Fprintln(w, "no instances")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tIP\tSTATE\tREADY\tRESTARTS\tDETAILS")
	for _, in := range st.Instances {
		detail := in.Reason
		if in.Message != "" {
			detail = strings.TrimPrefix(detail+": "+in.Message, ": ")
		}
		state := in.State
		if in.Paused {
			state += " (paused)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", in.Name, orDash(in.IP), state, yesNo(in.Ready), in.Restarts, detail)
		for _, ct := range in.Containers {
			state := ct.State
			if ct.Reason != "" {
				state += " (" + ct.Reason + ")"
			}
			fmt.Fprintf(tw, "  %s\t\t%s\t%s\t%d\t%s\n", ct.Name, state, yesNo(ct.Ready), ct.Restarts, containerDetail(ct, time.Now()))
		}
	}
	tw.Flush()
}

// containerDetail names failing probes, the last exit and a pending
// restart.
func containerDetail(ct admin.ContainerStatus, now time.Time) string {
	var parts []string
	for _, kind := range []string{"startup", "liveness", "readiness"} {
		p, ok := ct.Probes[kind]
		if !ok || p.Result == "success" {
			continue
		}
		s := kind + " " + p.Result
		if p.Output != "" {
			s += " (" + oneLine(p.Output) + ")"
		}
		parts = append(parts, s)
	}
	if x := ct.LastExit; x != nil {
		s := "last exit: " + x.Message
		if x.Message == "" {
			s = fmt.Sprintf("last exit: code %d", x.Code)
			if x.Signal != "" {
				s += ", " + x.Signal
			}
			if x.OOMKilled {
				s += ", OOMKilled"
			}
		}
		parts = append(parts, s)
	}
	if !ct.NextRestart.IsZero() {
		if d := ct.NextRestart.Sub(now).Round(time.Second); d > 0 {
			parts = append(parts, fmt.Sprintf("restarting in %s", d))
		} else {
			parts = append(parts, "restarting")
		}
	}
	return strings.Join(parts, "; ")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func endpointsAction(c *cli.Context) error {
	e, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	eps, err := admin.NewClient(e).Endpoints(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, eps)
	}
	if len(eps) == 0 {
		fmt.Fprintf(c.App.Writer, "service %s has no ready endpoint: the gateway answers 503 until an instance is ready (see `easlocal ps %s`)\n", e.Name, e.Name)
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tIP\tPORT")
	for _, ep := range eps {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", ep.Instance, ep.IP, ep.Port)
	}
	return tw.Flush()
}

func eventsAction(c *cli.Context) error {
	e, _, err := target(c, 0, "[SERVICE]")
	if err != nil {
		return err
	}
	cl := admin.NewClient(e)
	w := c.App.Writer
	print := func(ev admin.Event) error {
		if c.Bool("json") {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		}
		_, err := fmt.Fprintln(w, session.FormatEvent(ev))
		return err
	}
	if c.Bool("follow") {
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := cl.FollowEvents(ctx, 0, print); err != nil {
			return err
		}
		if ctx.Err() == nil { // the service closed the stream, not Ctrl-C
			fmt.Fprintf(c.App.ErrWriter, "service %s ended its event stream: it is stopping\n", e.Name)
		}
		return nil
	}
	evs, _, err := cl.Events(c.Context, 0)
	if err != nil {
		return err
	}
	if len(evs) == 0 && !c.Bool("json") {
		fmt.Fprintf(w, "no events yet for service %s\n", e.Name)
	}
	for _, ev := range evs {
		if err := print(ev); err != nil {
			return err
		}
	}
	return nil
}

// logStream is one container log to print.
type logStream struct{ instance, container, prefix string }

func logsAction(c *cli.Context) error {
	args, err := ctlArgs(c)
	if err != nil {
		return err
	}
	if len(args) > 2 {
		return usageError{errors.New("usage: easlocal logs [SERVICE] [INSTANCE]")}
	}
	reg := registry(c)
	name, instance := "", ""
	switch len(args) {
	case 2:
		name, instance = args[0], args[1]
	case 1:
		// A running service's name, or else an instance of the only one.
		if _, err := reg.Lookup(args[0]); err == nil {
			name = args[0]
		} else {
			instance = args[0]
		}
	}
	e, err := reg.Lookup(name)
	if err != nil {
		return err
	}
	cl := admin.NewClient(e)
	follow := c.Bool("follow")
	// Following every instance, more may come (scale): prefix from the start.
	discover := follow && instance == ""
	streams, err := logStreams(c.Context, cl, instance, c.String("container"), discover)
	if err != nil && !(discover && errors.Is(err, errNoInstances)) {
		return err
	}
	out := &lineWriter{w: c.App.Writer}
	if !follow {
		// One after the other: the files have no timestamps to merge by.
		for _, s := range streams {
			if err := copyLog(c.Context, cl, s, false, out); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &logFollower{ctx: ctx, cl: cl, out: out, active: map[string]bool{}}
	for _, s := range streams {
		f.start(s)
	}
	if !discover {
		f.wg.Wait()
		return f.err()
	}
	// Look for new instances until Ctrl-C or the service is gone.
	tick := time.NewTicker(logsDiscoverEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			f.wg.Wait()
			return nil
		case <-tick.C:
		}
		more, err := logStreams(ctx, cl, "", c.String("container"), true)
		var apiErr *admin.APIError
		switch {
		case err == nil:
			for _, s := range more {
				f.start(s)
			}
		case ctx.Err() != nil || errors.As(err, &apiErr) || errors.Is(err, errNoInstances):
			// Ctrl-C, or an answer (not a vanished service): carry on.
		default:
			stop()
			f.wg.Wait()
			fmt.Fprintf(c.App.ErrWriter, "service %s is gone: %v\n", e.Name, err)
			return nil
		}
	}
}

// logsDiscoverEvery is how often `logs -f` looks for new instances.
var logsDiscoverEvery = time.Second

// logFollower runs one goroutine per followed container log; start is
// called from the command's goroutine only.
type logFollower struct {
	ctx context.Context
	cl  *admin.Client
	out *lineWriter
	wg  sync.WaitGroup

	mu     sync.Mutex
	active map[string]bool // instance/container being followed; guarded by mu
	errs   []error         // guarded by mu
}

// start follows s unless it is already followed. A stream ends when its
// instance is scaled away; if the instance comes back it is followed anew.
func (f *logFollower) start(s logStream) {
	key := s.instance + "/" + s.container
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active[key] {
		return
	}
	f.active[key] = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		err := copyLog(f.ctx, f.cl, s, true, f.out)
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.active, key)
		if err != nil {
			f.errs = append(f.errs, err)
		}
	}()
}

func (f *logFollower) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return nil // Ctrl-C
	}
	return errors.Join(f.errs...)
}

// errNoInstances: there is no log to show yet (scaled to 0).
var errNoInstances = errors.New("no instances to show logs of")

// logStreams picks the logs to show: the instance's (or every instance's)
// containers, or only --container, prefixed when there are several or
// when prefix is set.
func logStreams(ctx context.Context, cl *admin.Client, instance, container string, prefix bool) ([]logStream, error) {
	st, err := cl.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []logStream
	multi := false
	names := map[string]bool{} // every container name, for the error below
	for _, in := range st.Instances {
		if instance != "" && in.Name != instance {
			continue
		}
		if container != "" {
			has := instance != "" // a named instance: the API words the error
			for _, ct := range in.Containers {
				names[ct.Name] = true
				has = has || ct.Name == container
			}
			if has {
				out = append(out, logStream{instance: in.Name, container: container})
			}
			continue
		}
		multi = multi || len(in.Containers) > 1
		for _, ct := range in.Containers {
			out = append(out, logStream{instance: in.Name, container: ct.Name})
		}
	}
	if len(out) == 0 && len(names) > 0 {
		return nil, fmt.Errorf("no instance of service %s has a container %q; its containers are %s",
			st.Name, container, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
	}
	if len(out) == 0 {
		if instance == "" {
			return nil, fmt.Errorf("%w: service %s has none now (see `easlocal ps %s`)", errNoInstances, st.Name, st.Name)
		}
		// Let the API word the error about the unknown instance.
		out = append(out, logStream{instance: instance, container: container})
	}
	if len(out) > 1 || prefix {
		width := 0
		for i := range out {
			out[i].prefix = out[i].instance
			if multi {
				out[i].prefix += "/" + out[i].container
			}
			width = max(width, len(out[i].prefix))
		}
		for i := range out {
			out[i].prefix = fmt.Sprintf("%-*s | ", width, out[i].prefix)
		}
	}
	return out, nil
}

func copyLog(ctx context.Context, cl *admin.Client, s logStream, follow bool, out *lineWriter) error {
	body, err := cl.Logs(ctx, s.instance, s.container, follow)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer body.Close()
	r := bufio.NewReader(body)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n" // a last line without newline
			}
			if werr := out.write(s.prefix + line); werr != nil {
				return werr
			}
		}
		if err == io.EOF || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("log of %s/%s: %w", s.instance, s.container, err)
		}
	}
}

// lineWriter writes whole lines from several goroutines without mixing.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := io.WriteString(l.w, s)
	return err
}

func killAction(c *cli.Context) error {
	e, args, err := target(c, 1, "[SERVICE] INSTANCE [--signal SIG]")
	if err != nil {
		return err
	}
	sig, _, err := admin.ParseSignal(c.String("signal"))
	if err != nil {
		return usageError{fmt.Errorf("--signal: %w", err)}
	}
	if err := admin.NewClient(e).Kill(c.Context, args[0], sig); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "sent %s to %s of service %s\n", sig, args[0], e.Name)
	return nil
}

func instanceAction(c *cli.Context, act func(*admin.Client, context.Context, string) error, done string) error {
	e, args, err := target(c, 1, "[SERVICE] INSTANCE")
	if err != nil {
		return err
	}
	if err := act(admin.NewClient(e), c.Context, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, done+"\n", args[0], e.Name)
	return nil
}

func scaleAction(c *cli.Context) error {
	e, args, err := target(c, 1, "[SERVICE] N")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return usageError{fmt.Errorf("scale: %q is not a number of instances; use a whole number, 0 or more", args[0])}
	}
	cl := admin.NewClient(e)
	st, err := cl.Status(c.Context)
	if err != nil {
		return err
	}
	if err := cl.Scale(c.Context, n); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "scaling service %s from %d to %d instances; watch with `easlocal ps %s`\n", e.Name, st.Desired, n, e.Name)
	return nil
}

// downAction asks the service to stop and waits until its process has
// unregistered or exited.
func downAction(c *cli.Context) error {
	e, _, err := target(c, 0, "[SERVICE]")
	if errors.Is(err, admin.ErrUnknownService) {
		// No easlocal runs this service: it may have crashed (SIGKILL,
		// power loss) and left instances behind. Remove them.
		if args, aerr := ctlArgs(c); aerr == nil && len(args) == 1 {
			return cleanupLeftovers(c, args[0])
		}
	}
	if err != nil {
		return err
	}
	if err := admin.NewClient(e).Down(c.Context); err != nil {
		var apiErr *admin.APIError
		if errors.As(err, &apiErr) || c.Context.Err() != nil {
			return err
		}
		// The control API is gone but the process lives: `up` also tears
		// down on SIGTERM.
		if kerr := syscall.Kill(e.PID, syscall.SIGTERM); kerr != nil {
			return fmt.Errorf("%w; sending SIGTERM to pid %d failed too: %v", err, e.PID, kerr)
		}
		fmt.Fprintf(c.App.Writer, "the control API of service %s does not answer; sent SIGTERM to its process (pid %d)\n", e.Name, e.PID)
	}
	fmt.Fprintf(c.App.Writer, "stopping service %s ...\n", e.Name)
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	reg := registry(c)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := reg.Lookup(e.Name)
		if errors.Is(err, admin.ErrUnknownService) || (err == nil && got.PID != e.PID) {
			fmt.Fprintf(c.App.Writer, "service %s stopped\n", e.Name)
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s (pid %d) is still stopping after %s; wait, or see its logs", e.Name, e.PID, c.Duration("timeout"))
		case <-tick.C:
		}
	}
}

// cleanupLeftovers removes what a crashed easlocal left of service:
// containers, snapshots, network namespaces and IP leases.
func cleanupLeftovers(c *cli.Context, name string) error {
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	defer rt.Close()
	left, err := rt.Leftovers(c.Context, name)
	if err != nil {
		return err
	}
	if left.Empty() {
		return fmt.Errorf("service %s is not running and left nothing behind", name)
	}
	if err := rt.Cleanup(c.Context, name); err != nil {
		return fmt.Errorf("cannot remove what service %s left behind: %w", name, err)
	}
	fmt.Fprintf(c.App.Writer, "service %s was not running; removed what an earlier run left behind\n", name)
	return nil
}
