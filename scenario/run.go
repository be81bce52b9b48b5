package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/session"
)

// Options is what `easlocal test` passes to Run.
type Options struct {
	Files []string
	// Up holds the flags of `up`; per scenario its File is the scenario's
	// service, and the scenario's instances and up settings replace the
	// matching fields. An empty Listen means 127.0.0.1:0.
	Up session.Options
	// WaitTimeout bounds how long every instance may take to be ready.
	WaitTimeout time.Duration
	// Out receives the report: text, or JSON when JSON is set. Err
	// receives progress lines and the service's warnings.
	Out, Err io.Writer
	JSON     bool
	// JUnit, when set, receives the JUnit XML report.
	JUnit io.Writer
	// StopSignals is called when ctx ends (Ctrl-C) and the teardown
	// begins, so that a second Ctrl-C ends the process instead of waiting
	// for it. It is not called for the teardown between scenarios.
	StopSignals func()
}

// Run validates every file, then runs each scenario in turn against a
// fresh service, and writes the reports. A file that cannot be run is a
// *FileError and nothing is run. Otherwise the Report says whether every
// expectation held; the error is then about writing the reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	var all []Scenario
	var errs []error
	for _, f := range o.Files {
		scs, err := LoadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, scs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.StopSignals == nil {
		o.StopSignals = func() {}
	}
	rep := &Report{Started: time.Now()}
	for _, sc := range all {
		if ctx.Err() != nil {
			rep.Scenarios = append(rep.Scenarios, Result{Name: sc.Name, File: sc.File, Service: sc.Service,
				Error: "not run: interrupted", Interrupted: true})
			continue
		}
		res := runOne(ctx, sc, o)
		rep.Scenarios = append(rep.Scenarios, res)
	}
	rep.finish()
	var werr []error
	if o.JSON {
		werr = append(werr, rep.WriteJSON(o.Out))
	} else if o.Out != nil {
		werr = append(werr, rep.WriteText(o.Out))
	}
	if o.JUnit != nil {
		werr = append(werr, rep.WriteJUnit(o.JUnit))
	}
	return rep, errors.Join(werr...)
}

// Validate validates every file and writes what each scenario would do to
// w, running nothing. A bad file is a *FileError, as for Run.
func Validate(files []string, w io.Writer) error {
	var errs []error
	var out strings.Builder
	for _, f := range files {
		scs, err := LoadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range scs {
			out.WriteString(Summary(s))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// sessionOptions applies the scenario to the flags of up.
func sessionOptions(sc Scenario, up session.Options) (session.Options, error) {
	so := up
	so.File = sc.Service
	so.ShowLogs = false
	if sc.Instances != nil {
		n := *sc.Instances
		so.Instances = &n
	}
	if so.Listen == "" {
		so.Listen = "127.0.0.1:0"
	}
	u := sc.Up
	if u.RestartPolicy != nil {
		p, err := scheduler.ParseRestartPolicy(*u.RestartPolicy)
		if err != nil {
			return so, err
		}
		so.RestartPolicy = p
	}
	if u.BackoffInitial != nil {
		so.BackoffInitial = *u.BackoffInitial
	}
	if u.BackoffMax != nil {
		so.BackoffMax = *u.BackoffMax
	}
	if so.BackoffMax < so.BackoffInitial {
		so.BackoffMax = so.BackoffInitial
	}
	if u.StopGrace != nil {
		so.StopGrace = *u.StopGrace
	}
	if u.NoRetry != nil {
		so.NoRetry = *u.NoRetry
	}
	if u.Token != nil {
		so.Token = *u.Token
	}
	return so, nil
}

// runOne brings the service up, runs the scenario and tears down, always.
func runOne(ctx context.Context, sc Scenario, o Options) (res Result) {
	res = Result{Name: sc.Name, File: sc.File, Service: sc.Service, Started: time.Now()}
	defer func() { res.Seconds = time.Since(res.Started).Seconds() }()
	for i, f := range sc.Faults {
		if !(apiInjector{}).Supports(f.Kind) {
			res.Error = fmt.Sprintf("faults[%d] (%s): this easlocal cannot inject %s faults", i, f.Describe(), f.Kind)
			return res
		}
	}
	so, err := sessionOptions(sc, o.Up)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	wait := o.WaitTimeout
	if sc.Up.WaitTimeout != nil {
		wait = *sc.Up.WaitTimeout
	}
	if wait <= 0 {
		wait = 3 * time.Minute
	}
	fmt.Fprintf(o.Err, "scenario %s: starting %s\n", sc.Name, sc.Service)
	s, err := session.Start(ctx, so)
	if err != nil {
		res.Error = fmt.Sprintf("the service did not start: %v", err)
		return res
	}
	var inj FaultInjector
	defer func() {
		// Teardown, whatever happened: faults reverted, service down.
		if inj != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := inj.ClearAll(cctx); err != nil {
				res.TeardownError = fmt.Sprintf("reverting the faults: %v", err)
			}
			cancel()
		}
		s.Stop()
		stop := func() {}
		if ctx.Err() != nil {
			stop = o.StopSignals
		}
		if err := s.Wait(context.Background(), stop); err != nil {
			res.TeardownError = joinText(res.TeardownError, fmt.Sprintf("stopping the service: %v", err))
		}
		if res.TeardownError != "" {
			res.Passed = false
		}
	}()
	d, err := admin.Find(admin.Registry{Dir: so.RegistryDir}, s.Name())
	if err != nil {
		res.Error = fmt.Sprintf("the service's control API cannot be found: %v", err)
		return res
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	_, err = d.WaitReady(wctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			res.Error, res.Interrupted = "interrupted while the service started", true
		} else {
			res.Error = fmt.Sprintf("not every instance was ready within %s: %v", wait, err)
		}
		return res
	}
	inj = apiInjector{d.Client}
	lo, err := loadOptions(sc, s.Name(), s.GatewayURL(), so.Token)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	fmt.Fprintf(o.Err, "scenario %s: %s ready; load %s\n", sc.Name, s.Name(), sc.Load.describe())
	m := execute(ctx, sc, d.Client, inj, realLoader(lo, sc.Load.Mode == Direct, d.Client))
	res.fill(sc, m)
	return res
}

func joinText(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}
