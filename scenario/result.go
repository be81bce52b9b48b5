package scenario

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/loadgen"
)

// Report is the outcome of every scenario of one `easlocal test`.
type Report struct {
	Started   time.Time `json:"started"`
	Passed    bool      `json:"passed"`
	Scenarios []Result  `json:"scenarios"`
}

func (r *Report) finish() {
	r.Passed = len(r.Scenarios) > 0
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		r.Passed = r.Passed && s.Passed
		if s.Checks == nil {
			s.Checks = []Check{} // [] rather than null in the JSON
		}
	}
}

// Result is the outcome of one scenario. Times in it are seconds from
// the start of the load.
type Result struct {
	Name    string `json:"name"`
	File    string `json:"file"`
	Service string `json:"service"`
	Passed  bool   `json:"passed"`
	// Error says why the scenario could not run (the service did not
	// come up, a fault kind is not available); its checks are then empty.
	Error         string    `json:"error,omitempty"`
	TeardownError string    `json:"teardown_error,omitempty"`
	Interrupted   bool      `json:"interrupted,omitempty"`
	Started       time.Time `json:"started"`
	Seconds       float64   `json:"seconds"` // the whole scenario, up and down included

	Load     string       `json:"load,omitempty"`
	Requests int          `json:"requests"`
	Failed   int          `json:"failed"`
	P50Ms    float64      `json:"p50_ms"`
	P99Ms    float64      `json:"p99_ms"`
	Checks   []Check      `json:"checks"`
	Faults   []FaultEntry `json:"faults,omitempty"`
	Phases   []Phase      `json:"phases,omitempty"`
	Timeline []Second     `json:"timeline,omitempty"`
	Failures []Burst      `json:"failures,omitempty"`
}

// FaultEntry is one fault as it happened.
type FaultEntry struct {
	Kind     string   `json:"kind"`
	Fault    string   `json:"fault"`
	Instance string   `json:"instance,omitempty"`
	Started  *float64 `json:"started,omitempty"` // s from the load's start; nil: not injected
	Ended    *float64 `json:"ended,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// Phase is the numbers of one phase: before the first fault, during or
// after one.
type Phase struct {
	Name     string  `json:"name"`
	From     float64 `json:"from"` // s from the load's start
	To       float64 `json:"to"`
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
}

// Second is one second of the timeline.
type Second struct {
	T         int     `json:"t"` // seconds from the load's start
	Requests  int     `json:"requests"`
	Failed    int     `json:"failed"`
	Endpoints int     `json:"endpoints"` // the fewest ready endpoints seen in the second
	P99Ms     float64 `json:"p99_ms"`
}

// Burst is a run of seconds with failed requests, with the events
// around it.
type Burst struct {
	From   float64      `json:"from"` // s from the load's start
	To     float64      `json:"to"`
	Failed int          `json:"failed"`
	How    string       `json:"how"` // "12 without answer, 502×3"
	Events []EventEntry `json:"events"`
}

// EventEntry is an event with its time from the load's start.
type EventEntry struct {
	At       float64 `json:"at"`
	Instance string  `json:"instance,omitempty"`
	Type     string  `json:"type"`
	Reason   string  `json:"reason"`
	Message  string  `json:"message"`
}

// eventsAround is how far before and after a burst of failures events
// are shown.
const eventsAround = 2 * time.Second

// maxBursts bounds the bursts reported.
const maxBursts = 5

func secs(m *measurement, t time.Time) float64 {
	return float64(t.Sub(m.Start).Milliseconds()) / 1000
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill turns a measurement into the result.
func (r *Result) fill(sc Scenario, m *measurement) {
	r.Load = sc.Load.describe()
	all := statsOf(m.Records, m.Start, m.LoadEnd)
	r.Requests, r.Failed, r.P50Ms, r.P99Ms = all.Requests, all.Failed, ms(all.P50), ms(all.P99)
	r.Checks = evaluate(sc, m)
	for i, fr := range m.Faults {
		fe := FaultEntry{Kind: sc.Faults[i].Kind, Fault: fr.Fault, Instance: fr.Instance, Error: fr.Error}
		if !fr.Started.IsZero() {
			v := secs(m, fr.Started)
			fe.Started = &v
		}
		if !fr.Ended.IsZero() {
			v := secs(m, fr.Ended)
			fe.Ended = &v
		}
		r.Faults = append(r.Faults, fe)
	}
	if len(sc.Faults) > 0 {
		before, during, after := m.phases(sc)
		ws := []window{before}
		for i := range during {
			ws = append(ws, during[i], after[i])
		}
		for _, w := range ws {
			st := statsOf(m.Records, w.From, w.To)
			r.Phases = append(r.Phases, Phase{Name: w.Name, From: secs(m, w.From), To: secs(m, w.To),
				Requests: st.Requests, Failed: st.Failed, P50Ms: ms(st.P50), P99Ms: ms(st.P99)})
		}
	}
	r.Timeline = timeline(m)
	r.Failures = bursts(m, r.Timeline)
	r.Passed = !m.Interrupted && len(r.Checks) > 0
	for _, c := range r.Checks {
		r.Passed = r.Passed && c.Passed
	}
	if m.Interrupted {
		r.Interrupted = true
		r.Error = "interrupted before the scenario ended"
	}
	if m.LoadErr != nil {
		r.Error = joinText(r.Error, "the load could not run: "+m.LoadErr.Error())
		r.Passed = false
	}
}

// timeline buckets the requests and samples by second, from the load's
// start to the end of the run (recovery included).
func timeline(m *measurement) []Second {
	n := int((m.End.Sub(m.Start) + time.Second - 1) / time.Second) // the last second may be partial
	n = max(n, 1)
	out := make([]Second, n)
	lat := make([][]time.Duration, n)
	for i := range out {
		out[i].T = i
		out[i].Endpoints = -1
	}
	for _, rec := range m.Records {
		i := int(rec.Start.Sub(m.Start) / time.Second)
		if i < 0 || i >= n {
			continue
		}
		out[i].Requests++
		if rec.Outcome != loadgen.OK {
			out[i].Failed++
		}
		lat[i] = append(lat[i], rec.Latency)
	}
	for _, s := range m.Samples {
		i := int(s.At.Sub(m.Start) / time.Second)
		if i < 0 || i >= n {
			continue
		}
		if out[i].Endpoints < 0 || s.Endpoints < out[i].Endpoints {
			out[i].Endpoints = s.Endpoints
		}
	}
	// Endpoint changes between two samples show in the events: replay
	// them from the first sample's count so that a dip shorter than a
	// sample still shows.
	last := 0
	if len(m.Samples) > 0 {
		first := m.Samples[0]
		last = first.Endpoints
		count := first.Endpoints
		for _, e := range m.Events {
			if !e.Time.After(first.At) {
				continue
			}
			switch e.Reason {
			case events.EndpointAdded:
				count++
			case events.EndpointRemoved:
				count = max(count-1, 0)
			default:
				continue
			}
			i := int(e.Time.Sub(m.Start) / time.Second)
			if i >= 0 && i < n && (out[i].Endpoints < 0 || count < out[i].Endpoints) {
				out[i].Endpoints = count
			}
		}
	}
	for i := range out {
		if out[i].Endpoints < 0 {
			out[i].Endpoints = last // no sample in this second: the one before
		}
		last = out[i].Endpoints
		slices.Sort(lat[i])
		out[i].P99Ms = ms(loadgen.Percentile(lat[i], 0.99))
	}
	return out
}

// bursts finds runs of seconds with failures and the events around each.
func bursts(m *measurement, tl []Second) []Burst {
	var out []Burst
	for i := 0; i < len(tl) && len(out) < maxBursts; i++ {
		if tl[i].Failed == 0 {
			continue
		}
		j := i
		for j+1 < len(tl) && tl[j+1].Failed > 0 {
			j++
		}
		from, to := m.Start.Add(time.Duration(i)*time.Second), m.Start.Add(time.Duration(j+1)*time.Second)
		st := statsOf(m.Records, from, to)
		b := Burst{From: float64(i), To: float64(j + 1), Failed: st.Failed, How: failuresText(m.Records, from, to)}
		for _, e := range m.Events {
			if e.Time.Before(from.Add(-eventsAround)) || e.Time.After(to.Add(eventsAround)) {
				continue
			}
			b.Events = append(b.Events, eventEntry(m, e))
		}
		out = append(out, b)
		i = j
	}
	return out
}

func eventEntry(m *measurement, e events.Event) EventEntry {
	return EventEntry{At: secs(m, e.Time), Instance: e.Instance, Type: e.Type, Reason: e.Reason, Message: e.Message}
}

// failuresText says how the failed requests in [from, to) failed.
func failuresText(recs []loadgen.Record, from, to time.Time) string {
	codes := map[int]int{}
	var conn, dial, none int
	for _, r := range recs {
		if r.Start.Before(from) || !r.Start.Before(to) || r.Outcome == loadgen.OK {
			continue
		}
		switch r.Outcome {
		case loadgen.Status:
			codes[r.Code]++
		case loadgen.DialFail:
			dial++
		case loadgen.NoTarget:
			none++
		default:
			conn++
		}
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		parts = append(parts, fmt.Sprintf("status %d×%d", c, codes[c]))
	}
	if conn > 0 {
		parts = append(parts, fmt.Sprintf("%d reset or timed out", conn))
	}
	if dial > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", dial))
	}
	if none > 0 {
		parts = append(parts, fmt.Sprintf("%d with no endpoint to send to", none))
	}
	return strings.Join(parts, ", ")
}
