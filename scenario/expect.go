package scenario

import (
	"fmt"
	"strings"
)

// checks names every expectation of e, in the order they are reported.
func (e Expect) checks(s Scenario) []string {
	var out []string
	add := func(prefix string, b Bounds) {
		if b.MaxFailed != nil {
			out = append(out, prefix+"failed requests <= "+b.MaxFailed.String())
		}
		if b.P50 != nil {
			out = append(out, prefix+"p50 <= "+b.P50.String())
		}
		if b.P99 != nil {
			out = append(out, prefix+"p99 <= "+b.P99.String())
		}
	}
	add("", e.Bounds)
	add("before the first fault: ", e.Before)
	for i := range s.Faults {
		add(fmt.Sprintf("during fault %d: ", i), e.During)
	}
	for i := range s.Faults {
		add(fmt.Sprintf("after fault %d: ", i), e.After)
	}
	if e.RecoveredWithin != nil {
		out = append(out, "every instance ready within "+e.RecoveredWithin.String()+" of the last fault's end")
	}
	for _, r := range e.Restarts {
		out = append(out, "restarts of "+restartKey(r)+" "+r.Count.String())
	}
	for _, c := range e.Status {
		out = append(out, "answers with status "+c.Key+" "+c.Count.String())
	}
	for _, ev := range e.Events {
		out = append(out, ev.describe(s))
	}
	return out
}

func restartKey(r KeyCount) string {
	switch {
	case r.Key == "total":
		return "all instances"
	case r.Index >= 0:
		return fmt.Sprintf("instance %d", r.Index)
	}
	return r.Key
}

func (ev EventExpect) describe(s Scenario) string {
	who := ev.Instance
	if who == "" && ev.Fault < len(s.Faults) {
		who = s.Faults[ev.Fault].Target()
	}
	return fmt.Sprintf("events %s of %s within %s of fault %d", strings.Join(ev.Sequence, " then "), who, ev.Within, ev.Fault)
}
