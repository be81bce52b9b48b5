package scenario

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/internal/loadgen"
)

// window is a span of the run with a name: "before the first fault",
// "during fault 1", "after fault 1".
type window struct {
	Name     string
	From, To time.Time
}

// phases splits the load into the span before the first fault, each
// fault's span (start to end; an instant fault's lasts until its instance
// is ready again, one without an end until the next fault starts) and the
// span after each fault up to the next fault's start or the end of the
// load. Faults that could not be injected have no span.
func (m *measurement) phases(sc Scenario) (before window, during, after []window) {
	loadEnd := m.LoadEnd
	if loadEnd.IsZero() {
		loadEnd = m.End
	}
	var starts []time.Time
	for _, fr := range m.Faults {
		if !fr.Started.IsZero() {
			starts = append(starts, fr.Started)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	first := loadEnd
	if len(starts) > 0 {
		first = starts[0]
	}
	before = window{Name: "before the first fault", From: m.Start, To: first}
	nextStart := func(t time.Time) time.Time {
		for _, s := range starts {
			if s.After(t) {
				return s
			}
		}
		return loadEnd
	}
	for i, fr := range m.Faults {
		if fr.Started.IsZero() {
			continue // not injected
		}
		end := fr.Ended
		if end.IsZero() || end.After(loadEnd) {
			end = nextStart(fr.Started)
			if sc.Faults[i].For > 0 || instant(sc.Faults[i].Kind) {
				end = loadEnd // still on (or never back) when the load ended
			}
		}
		if end.After(loadEnd) {
			end = loadEnd
		}
		during = append(during, window{Name: fmt.Sprintf("during fault %d", i), From: fr.Started, To: end})
		afterEnd := nextStart(end)
		if afterEnd.Before(end) {
			afterEnd = end
		}
		after = append(after, window{Name: fmt.Sprintf("after fault %d", i), From: end, To: afterEnd})
	}
	return before, during, after
}

// stats are the numbers of a set of requests.
type stats struct {
	Requests, Failed int
	P50, P99         time.Duration
	Codes            map[int]int // status code -> answers
	ConnErrors       int         // no answer: refused, reset, timed out
}

// statsOf counts the requests that started in [from, to); a zero to
// means no end. Latency percentiles are over every request, failed ones
// included (a timeout counts as its timeout).
func statsOf(recs []loadgen.Record, from, to time.Time) stats {
	s := stats{Codes: map[int]int{}}
	var lat []time.Duration
	for _, r := range recs {
		if r.Start.Before(from) || (!to.IsZero() && !r.Start.Before(to)) {
			continue
		}
		s.Requests++
		lat = append(lat, r.Latency)
		if r.Outcome != loadgen.OK {
			s.Failed++
		}
		if r.Code != 0 {
			s.Codes[r.Code]++
		} else {
			s.ConnErrors++
		}
	}
	slices.Sort(lat)
	s.P50 = loadgen.Percentile(lat, 0.50)
	s.P99 = loadgen.Percentile(lat, 0.99)
	return s
}

// codesText lists the answers by status: "200×780, 503×3, 12 without answer".
func (s stats) codesText() string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(s.Codes)) {
		parts = append(parts, fmt.Sprintf("%d×%d", c, s.Codes[c]))
	}
	if s.ConnErrors > 0 {
		parts = append(parts, fmt.Sprintf("%d without answer", s.ConnErrors))
	}
	if len(parts) == 0 {
		return "no requests"
	}
	return strings.Join(parts, ", ")
}

// Check is one expectation with what was measured.
type Check struct {
	Name   string `json:"name"`
	Want   string `json:"want"`
	Got    string `json:"got"`
	Passed bool   `json:"passed"`
	// Detail says more when the numbers alone do not: which requests
	// failed how, which events were missing.
	Detail string `json:"detail,omitempty"`
}

func durText(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// evaluate checks every expectation of sc against m, in the order
// Expect.checks names them.
func evaluate(sc Scenario, m *measurement) []Check {
	var out []Check
	e := sc.Expect
	bounds := func(prefix string, b Bounds, w window) {
		if b.empty() {
			return
		}
		st := statsOf(m.Records, w.From, w.To)
		span := fmt.Sprintf(" from %s to %s", offset(m, w.From), offset(m, w.To))
		if b.MaxFailed != nil {
			out = append(out, Check{Name: prefix + "failed requests", Want: "<= " + b.MaxFailed.String(),
				Got: failedText(st), Passed: b.MaxFailed.Allows(st.Failed, st.Requests), Detail: "requests" + span + ": " + st.codesText()})
		}
		if b.P50 != nil {
			out = append(out, Check{Name: prefix + "p50 latency", Want: "<= " + b.P50.String(), Got: durText(st.P50),
				Passed: st.P50 <= *b.P50 && st.Requests > 0, Detail: fmt.Sprintf("%d requests%s", st.Requests, span)})
		}
		if b.P99 != nil {
			out = append(out, Check{Name: prefix + "p99 latency", Want: "<= " + b.P99.String(), Got: durText(st.P99),
				Passed: st.P99 <= *b.P99 && st.Requests > 0, Detail: fmt.Sprintf("%d requests%s", st.Requests, span)})
		}
	}
	loadEnd := m.LoadEnd
	bounds("", e.Bounds, window{From: m.Start, To: loadEnd})
	before, during, after := m.phases(sc)
	bounds(before.Name+": ", e.Before, before)
	for _, w := range during {
		bounds(w.Name+": ", e.During, w)
	}
	for _, w := range after {
		bounds(w.Name+": ", e.After, w)
	}
	for _, fr := range m.Faults {
		if fr.Error != "" {
			out = append(out, Check{Name: fmt.Sprintf("fault %d (%s)", fr.Index, fr.Fault), Want: "injected and reverted",
				Got: "error", Detail: fr.Error})
		}
	}
	if e.RecoveredWithin != nil {
		c := Check{Name: "recovery after the last fault", Want: "<= " + e.RecoveredWithin.String()}
		if m.Recovered.IsZero() {
			c.Got = "not recovered"
			c.Detail = "not every instance was ready again within " + e.RecoveredWithin.String() + " of the last fault's end" + m.notReadyText()
		} else {
			took := m.Recovered.Sub(m.LastFaultEnd)
			c.Got, c.Passed = durText(took), took <= *e.RecoveredWithin
			c.Detail = "every instance ready at " + offset(m, m.Recovered) + ", the last fault ended at " + offset(m, m.LastFaultEnd)
		}
		out = append(out, c)
	}
	if len(e.Restarts) > 0 {
		last := m.lastSample()
		names := slices.Sorted(maps.Keys(last.Restarts))
		for _, r := range e.Restarts {
			n, who := 0, restartKey(r)
			switch {
			case r.Key == "total":
				for _, v := range last.Restarts {
					n += v
				}
			case r.Index >= 0:
				if r.Index < len(m.instanceOrder()) {
					name := m.instanceOrder()[r.Index]
					n, who = last.Restarts[name], fmt.Sprintf("instance %d (%s)", r.Index, name)
				}
			default:
				n = last.Restarts[r.Key]
			}
			out = append(out, Check{Name: "restarts of " + who, Want: r.Count.String(), Got: strconv.Itoa(n),
				Passed: r.Count.Holds(n), Detail: restartsText(last, names)})
		}
	}
	if len(e.Status) > 0 {
		st := statsOf(m.Records, m.Start, time.Time{})
		for _, c := range e.Status {
			code, _ := strconv.Atoi(c.Key)
			n := st.Codes[code]
			out = append(out, Check{Name: "answers with status " + c.Key, Want: c.Count.String(), Got: strconv.Itoa(n),
				Passed: c.Count.Holds(n), Detail: st.codesText()})
		}
	}
	for _, ev := range e.Events {
		out = append(out, m.checkEvents(sc, ev))
	}
	return out
}

func failedText(s stats) string {
	if s.Requests == 0 {
		return "0 of 0"
	}
	return fmt.Sprintf("%d of %d (%.2f%%)", s.Failed, s.Requests, float64(s.Failed)*100/float64(s.Requests))
}

func restartsText(s sample, names []string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, s.Restarts[n]))
	}
	return "restarts: " + strings.Join(parts, ", ")
}

// offset is t as seconds from the start of the load: "+4.25s".
func offset(m *measurement, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("+%.2fs", t.Sub(m.Start).Seconds())
}

func (m *measurement) lastSample() sample {
	if len(m.Samples) == 0 {
		return sample{Ready: map[string]bool{}, Restarts: map[string]int{}}
	}
	return m.Samples[len(m.Samples)-1]
}

// instanceOrder is the instance names in the order of the first sample
// (the order indexes refer to).
func (m *measurement) instanceOrder() []string { return m.Order }

func (m *measurement) notReadyText() string {
	last := m.lastSample()
	var not []string
	for _, n := range slices.Sorted(maps.Keys(last.Ready)) {
		if !last.Ready[n] {
			not = append(not, n)
		}
	}
	if len(not) == 0 {
		return ""
	}
	return "; not ready at the end: " + strings.Join(not, ", ")
}

// checkEvents looks for the sequence of reasons about the instance after
// the fault started, each after the one before and all within Within.
func (m *measurement) checkEvents(sc Scenario, ev EventExpect) Check {
	c := Check{Name: ev.describe(sc), Want: "within " + ev.Within.String()}
	fr := m.Faults[ev.Fault]
	who := ev.Instance
	if who == "" {
		who = fr.Instance
	}
	if fr.Started.IsZero() {
		c.Got = "fault not injected"
		c.Detail = fr.Error
		return c
	}
	deadline := fr.Started.Add(ev.Within)
	at := fr.Started
	var found []string
	for _, reason := range ev.Sequence {
		hit := false
		for _, e := range m.Events {
			if e.Reason == reason && (who == "" || e.Instance == who) && !e.Time.Before(at) && !e.Time.After(deadline) {
				found = append(found, fmt.Sprintf("%s at %s", reason, offset(m, e.Time)))
				at, hit = e.Time, true
				break
			}
		}
		if !hit {
			c.Got = "missing " + reason
			seen := []string{}
			for _, e := range m.Events {
				if (who == "" || e.Instance == who) && !e.Time.Before(fr.Started) && !e.Time.After(deadline) {
					seen = append(seen, e.Reason)
				}
			}
			c.Detail = fmt.Sprintf("events of %s from %s to %s: %s", who, offset(m, fr.Started), offset(m, deadline), strings.Join(seen, ", "))
			if len(found) > 0 {
				c.Detail = "found " + strings.Join(found, ", ") + "; " + c.Detail
			}
			return c
		}
	}
	c.Got = fmt.Sprintf("after %s", durText(at.Sub(fr.Started)))
	c.Passed = true
	c.Detail = strings.Join(found, ", ")
	return c
}
