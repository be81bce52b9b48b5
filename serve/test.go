package serve

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/scenario"
)

// Check is `easlocal test --check`: it validates the scenario files and
// says what each would do. A bad file is a usage error.
func Check(files []string, w io.Writer) error {
	err := scenario.Validate(files, w)
	var fe *scenario.FileError
	if errors.As(err, &fe) {
		return usage.Wrap(err)
	}
	return err
}

// TestOptions is `easlocal test`: the scenarios' options, and the file
// the JUnit report goes to ("" for none).
type TestOptions struct {
	Scenario scenario.Options
	JUnit    string
}

// Test runs the scenarios (scenario.Run) with the signal handling of up
// and reports whether every expectation held. The JUnit file is created
// before anything runs, so a bad path fails at once, and removed when
// nothing ran. A bad scenario file is a usage error.
func Test(ctx context.Context, o TestOptions) (passed bool, err error) {
	so := o.Scenario
	if o.JUnit != "" {
		f, err := os.OpenFile(o.JUnit, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return false, usage.Errorf("--junit: %w", err)
		}
		defer f.Close()
		so.JUnit = f
	}
	ctx, tearingDown, stop := Interrupts(ctx, so.Err, Abandon)
	defer stop()
	so.StopSignals = tearingDown // only once interrupted: a later scenario's teardown is not the last
	rep, err := scenario.Run(ctx, so)
	var fe *scenario.FileError
	if errors.As(err, &fe) {
		if so.JUnit != nil {
			os.Remove(o.JUnit) // nothing ran: no report
		}
		return false, usage.Wrap(err)
	}
	if err != nil {
		return false, err
	}
	return rep.Passed, nil
}
