package scenario

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: per scenario the verdict,
// each expectation with what was measured, the timeline as sparklines
// and the events around each burst of failures.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	passed := 0
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if i > 0 {
			b.WriteString("\n")
		}
		s.writeText(&b)
		if s.Passed {
			passed++
		}
	}
	if len(r.Scenarios) > 1 {
		fmt.Fprintf(&b, "\n%d of %d scenarios passed\n", passed, len(r.Scenarios))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict is PASS or FAIL (or ERROR when the scenario could not run).
func (s *Result) verdict() string {
	switch {
	case s.Passed:
		return "PASS"
	case s.Error != "" && len(s.Checks) == 0:
		return "ERROR"
	}
	return "FAIL"
}

func (s *Result) failedChecks() int {
	n := 0
	for _, c := range s.Checks {
		if !c.Passed {
			n++
		}
	}
	return n
}

func (s *Result) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "%s  scenario %s (%s)", s.verdict(), s.Name, s.File)
	if n := s.failedChecks(); n > 0 {
		fmt.Fprintf(b, ": %d of %d expectations failed", n, len(s.Checks))
	} else if s.Passed {
		fmt.Fprintf(b, ": %d expectations held", len(s.Checks))
	}
	fmt.Fprintf(b, " in %.1fs\n", s.Seconds)
	if s.Error != "" {
		fmt.Fprintf(b, "  error: %s\n", s.Error)
	}
	if s.TeardownError != "" {
		fmt.Fprintf(b, "  teardown: %s\n", s.TeardownError)
	}
	if s.Load == "" {
		return
	}
	fmt.Fprintf(b, "  load: %s\n", s.Load)
	fmt.Fprintf(b, "  %d requests, %d failed; p50 %.1fms, p99 %.1fms\n", s.Requests, s.Failed, s.P50Ms, s.P99Ms)
	if len(s.Faults) > 0 {
		b.WriteString("  faults:\n")
		for _, f := range s.Faults {
			fmt.Fprintf(b, "    %s", f.Fault)
			if f.Instance != "" {
				fmt.Fprintf(b, " (%s)", f.Instance)
			}
			switch {
			case f.Started == nil:
			case instant(f.Kind):
				fmt.Fprintf(b, ": at +%.2fs", *f.Started)
				if f.Ended != nil {
					fmt.Fprintf(b, ", restarted and ready at +%.2fs", *f.Ended)
				} else {
					b.WriteString(", not seen restarted and ready")
				}
			default:
				fmt.Fprintf(b, ": from +%.2fs", *f.Started)
				if f.Ended != nil {
					fmt.Fprintf(b, " to +%.2fs", *f.Ended)
				}
			}
			if f.Error != "" {
				fmt.Fprintf(b, ": %s", f.Error)
			}
			b.WriteString("\n")
		}
	}
	if len(s.Phases) > 0 {
		b.WriteString("  phases:\n")
		for _, p := range s.Phases {
			fmt.Fprintf(b, "    %-24s +%6.2fs to +%6.2fs  %5d requests, %4d failed, p50 %.1fms, p99 %.1fms\n",
				p.Name, p.From, p.To, p.Requests, p.Failed, p.P50Ms, p.P99Ms)
		}
	}
	if len(s.Checks) > 0 {
		b.WriteString("  expectations:\n")
		for _, c := range s.Checks {
			mark := "ok  "
			if !c.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(b, "    %s %s: got %s (want %s)\n", mark, c.Name, c.Got, c.Want)
			if c.Detail != "" && !c.Passed {
				fmt.Fprintf(b, "         %s\n", c.Detail)
			}
		}
	}
	if len(s.Timeline) > 0 {
		s.writeTimeline(b)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(b, "  failures from +%.0fs to +%.0fs: %d (%s); events from +%.0fs to +%.0fs:\n",
			f.From, f.To, f.Failed, f.How, f.From-eventsAround.Seconds(), f.To+eventsAround.Seconds())
		if len(f.Events) == 0 {
			b.WriteString("    (none)\n")
		}
		for _, e := range f.Events {
			who := e.Instance
			if who == "" {
				who = "-"
			}
			reason := e.Reason
			if e.Type == "Warning" {
				reason = "!" + reason
			}
			fmt.Fprintf(b, "%s\n", strings.TrimRight(fmt.Sprintf("    +%6.2fs %-10s %-16s %s", e.At, who, reason, e.Message), " "))
		}
	}
}

// sparks are the levels of a sparkline, lowest first.
var sparks = []rune(" ▁▂▃▄▅▆▇█")

// sparkline draws vals scaled to their maximum; every column covers per
// values (summed, or the minimum with useMin).
func sparkline(vals []int, per int, useMin bool) (string, int, int) {
	var cols []int
	for i := 0; i < len(vals); i += per {
		v := 0
		for j := i; j < min(i+per, len(vals)); j++ {
			switch {
			case useMin && j == i:
				v = vals[j]
			case useMin:
				v = min(v, vals[j])
			default:
				v += vals[j]
			}
		}
		cols = append(cols, v)
	}
	lo, hi := 0, 0
	for i, v := range cols {
		if i == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	var b strings.Builder
	for _, v := range cols {
		switch {
		case v == 0:
			b.WriteRune(sparks[0])
		case hi == 0:
			b.WriteRune(sparks[0])
		default:
			lvl := 1 + (v*(len(sparks)-2)+hi-1)/hi // 1..8: a non-zero value is never blank
			b.WriteRune(sparks[min(lvl, len(sparks)-1)])
		}
	}
	return b.String(), lo, hi
}

// maxColumns bounds the timeline's width in the terminal.
const maxColumns = 100

func (s *Result) writeTimeline(b *strings.Builder) {
	n := len(s.Timeline)
	per := (n + maxColumns - 1) / maxColumns
	var req, fail, eps []int
	for _, sec := range s.Timeline {
		req = append(req, sec.Requests)
		fail = append(fail, sec.Failed)
		eps = append(eps, sec.Endpoints)
	}
	unit := "1s"
	if per > 1 {
		unit = fmt.Sprintf("%ds", per)
	}
	fmt.Fprintf(b, "  timeline (one column = %s, +0s to +%ds):\n", unit, n)
	line, _, hi := sparkline(req, per, false)
	fmt.Fprintf(b, "    requests  |%s| max %d/%s\n", line, hi, unit)
	line, _, hi = sparkline(fail, per, false)
	fmt.Fprintf(b, "    failed    |%s| max %d/%s\n", line, hi, unit)
	line, lo, hi := sparkline(eps, per, true)
	fmt.Fprintf(b, "    endpoints |%s| %d to %d\n", line, lo, hi)
	marks := []rune(strings.Repeat(" ", (n+per-1)/per))
	for i, f := range s.Faults {
		if f.Started == nil {
			continue
		}
		col := int(*f.Started) / per
		if col < len(marks) {
			marks[col] = rune(strconv.Itoa(i % 10)[0])
		}
	}
	fmt.Fprintf(b, "    faults    |%s|\n", string(marks))
}

// JUnit XML: the format Jenkins, GitLab and the GitHub test reporters
// read. One testsuite per scenario, one testcase per expectation; the
// timeline goes in the suite's properties.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	out := junitSuites{Name: "easlocal test"}
	total := 0.0
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		total += s.Seconds
		js := junitSuite{Name: s.Name, ID: i, Package: s.File, Hostname: "localhost",
			Time: fmt.Sprintf("%.3f", s.Seconds), Timestamp: s.Started.UTC().Format("2006-01-02T15:04:05")}
		prop := func(name, value string) { js.Properties = append(js.Properties, junitProperty{name, value}) }
		prop("file", s.File)
		prop("service", s.Service)
		if s.Load != "" {
			prop("load", s.Load)
			prop("requests", strconv.Itoa(s.Requests))
			prop("failed", strconv.Itoa(s.Failed))
			prop("p50_ms", fmt.Sprintf("%.3f", s.P50Ms))
			prop("p99_ms", fmt.Sprintf("%.3f", s.P99Ms))
		}
		if len(s.Timeline) > 0 {
			var req, fail, eps, p99 []string
			for _, sec := range s.Timeline {
				req = append(req, strconv.Itoa(sec.Requests))
				fail = append(fail, strconv.Itoa(sec.Failed))
				eps = append(eps, strconv.Itoa(sec.Endpoints))
				p99 = append(p99, fmt.Sprintf("%.1f", sec.P99Ms))
			}
			prop("timeline.requests", strings.Join(req, ","))
			prop("timeline.failed", strings.Join(fail, ","))
			prop("timeline.endpoints", strings.Join(eps, ","))
			prop("timeline.p99_ms", strings.Join(p99, ","))
		}
		for j, p := range s.Phases {
			prop(fmt.Sprintf("phase.%d", j), fmt.Sprintf("%s: +%.2fs to +%.2fs, %d requests, %d failed, p50 %.1fms, p99 %.1fms",
				p.Name, p.From, p.To, p.Requests, p.Failed, p.P50Ms, p.P99Ms))
		}
		for j, f := range s.Faults {
			v := f.Fault
			if f.Started != nil {
				v += fmt.Sprintf(" started +%.2fs", *f.Started)
			}
			if f.Ended != nil {
				v += fmt.Sprintf(" ended +%.2fs", *f.Ended)
			}
			if f.Error != "" {
				v += ": " + f.Error
			}
			prop(fmt.Sprintf("fault.%d", j), v)
		}
		var failuresText strings.Builder
		for _, f := range s.Failures {
			fmt.Fprintf(&failuresText, "failures from +%.0fs to +%.0fs: %d (%s)\n", f.From, f.To, f.Failed, f.How)
			for _, e := range f.Events {
				fmt.Fprintf(&failuresText, "  +%.2fs %s %s %s\n", e.At, e.Instance, e.Reason, e.Message)
			}
		}
		for _, c := range s.Checks {
			jc := junitCase{Name: c.Name, Classname: "easlocal.scenario." + s.Name, Time: "0"}
			if !c.Passed {
				js.Failures++
				jc.Failure = &junitProblem{Message: fmt.Sprintf("want %s, got %s", c.Want, c.Got), Type: "expectation",
					Text: strings.TrimSpace(c.Detail + "\n" + failuresText.String())}
			}
			js.Cases = append(js.Cases, jc)
		}
		problem := joinText(s.Error, s.TeardownError)
		if problem != "" {
			js.Errors++
			js.Cases = append(js.Cases, junitCase{Name: "run", Classname: "easlocal.scenario." + s.Name, Time: fmt.Sprintf("%.3f", s.Seconds),
				Error: &junitProblem{Message: problem, Type: "scenario"}})
		}
		var text strings.Builder
		s.writeText(&text)
		js.SystemOut = text.String()
		js.Tests = len(js.Cases)
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Errors += js.Errors
		out.Suites = append(out.Suites, js)
	}
	out.Time = fmt.Sprintf("%.3f", total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
