package scenario

import (
	"fmt"
	"strings"
)

// Summary says in a few lines what a scenario will do.
func Summary(s Scenario) string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (%s:%d)\n", s.Name, s.File, s.Line)
	fmt.Fprintf(&b, "  service %s, %d instance(s)\n", s.Service, s.Count)
	fmt.Fprintf(&b, "  load: %s\n", s.Load.describe())
	for _, f := range s.Faults {
		fmt.Fprintf(&b, "  fault: %s\n", f.Describe())
	}
	for _, c := range s.Expect.checks(s) {
		fmt.Fprintf(&b, "  expect: %s\n", c)
	}
	return b.String()
}

func (l Load) describe() string {
	loop := fmt.Sprintf("%d closed-loop client(s)", l.Clients)
	if l.Rate > 0 {
		loop = fmt.Sprintf("%g req/s open loop", l.Rate)
	}
	s := fmt.Sprintf("%s, %s %s for %s, %s mode, timeout %s", loop, l.Method, l.Path, l.Duration, l.Mode, l.Timeout)
	if len(l.Headers) > 0 {
		s += fmt.Sprintf(", %d header(s)", len(l.Headers))
	}
	if l.Body != "" {
		s += fmt.Sprintf(", %d-byte body", len(l.Body))
	}
	return s
}
