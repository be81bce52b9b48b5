package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/easlocal/easlocal/runtime"
)

// Doctor runs the checks of cfg's runtime and prints one line per check,
// with the fix under each missing one, or a JSON object. ok says whether
// every required check passed.
func Doctor(ctx context.Context, cfg runtime.Config, asJSON bool, w io.Writer) (ok bool, err error) {
	checks := runtime.Preflight(ctx, cfg)
	if !asJSON {
		return printChecks(w, checks), nil
	}
	ok = checksOK(checks)
	return ok, printChecksJSON(w, checks, ok)
}

// checksOK reports whether every required check passed.
func checksOK(checks []runtime.Check) bool {
	for _, c := range checks {
		if !c.OK && !c.Optional {
			return false
		}
	}
	return true
}

// printChecksJSON is doctor --json: {"ok": bool, "checks": [...]}.
func printChecksJSON(w io.Writer, checks []runtime.Check, ok bool) error {
	type check struct {
		Name     string `json:"name"`
		OK       bool   `json:"ok"`
		Optional bool   `json:"optional"`
		Detail   string `json:"detail"`
		Fix      string `json:"fix,omitempty"`
	}
	out := struct {
		OK     bool    `json:"ok"`
		Checks []check `json:"checks"`
	}{OK: ok, Checks: []check{}}
	for _, c := range checks {
		out.Checks = append(out.Checks, check{c.Name, c.OK, c.Optional, c.Detail, c.Fix})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printChecks writes one line per check, with the fix under each missing
// one, and reports whether every required check passed.
func printChecks(w io.Writer, checks []runtime.Check) bool {
	ok := true
	for _, c := range checks {
		mark := "ok     "
		switch {
		case c.OK:
		case c.Optional:
			mark = "warn   "
		default:
			mark = "MISSING"
			ok = false
		}
		fmt.Fprintf(w, "%s %s: %s\n", mark, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", c.Fix)
		}
	}
	if ok {
		fmt.Fprintln(w, "easlocal can run services on this machine.")
	} else {
		fmt.Fprintln(w, "easlocal cannot run services until the MISSING items are fixed.")
	}
	return ok
}
