package admin

import (
	"context"
	"net/http"
)

// Probe advice (GET /v1/advice): what package advise says about the
// service's probe settings given what the prober observed. A Controller
// offers it by also implementing AdviceController; the session's does.

// AdviceController is the optional part of a Controller that gives
// advice. Advice is called from handler goroutines, concurrently.
type AdviceController interface {
	Advice() AdviceReport
}

// AdviceReport is the answer of GET /v1/advice.
type AdviceReport struct {
	Service string   `json:"service"`
	Advice  []Advice `json:"advice"`
	// Observed are the numbers the advice is based on, one entry per
	// container of every current instance.
	Observed []ObservedContainer `json:"observed"`
}

// Advice is one piece of advice about one container (c0, c1, ...).
type Advice struct {
	Container string `json:"container"`
	// Instance whose numbers are quoted ("" for advice on the
	// configuration alone).
	Instance string `json:"instance,omitempty"`
	// Probe is startup, liveness or readiness ("" when not about one).
	Probe string `json:"probe,omitempty"`
	// Rule is slow-start, startup-budget, latency or no-readiness.
	Rule string `json:"rule"`
	// Risk: on EAS the container could be killed or get traffic it cannot
	// serve (up and the dashboard show these).
	Risk    bool   `json:"risk"`
	Message string `json:"message"`
}

// ObservedContainer is what the prober saw of one container.
type ObservedContainer struct {
	Instance  string                   `json:"instance"`
	Container string                   `json:"container"`
	Restarts  int                      `json:"restarts"`
	Probes    map[string]ObservedProbe `json:"probes,omitempty"`
}

// ObservedProbe is what one probe kind of a container showed; times are
// seconds. FirstSuccess is from the container's start to the end of the
// first successful run (of the latest container that had one).
type ObservedProbe struct {
	Succeeded             bool    `json:"succeeded"`
	FirstSuccess          float64 `json:"first_success_seconds,omitempty"`
	FailuresBeforeSuccess int     `json:"failures_before_success"`
	FailingNow            int     `json:"failing_now,omitempty"`
	KilledBeforeSuccess   int     `json:"killed_before_success,omitempty"`
	Runs                  int     `json:"runs"`
	TimedOut              int     `json:"timed_out,omitempty"`
	Samples               int     `json:"latency_samples"`
	P50                   float64 `json:"p50_seconds"`
	P99                   float64 `json:"p99_seconds"`
	Max                   float64 `json:"max_seconds"`
}

// registerAdvice adds GET /v1/advice (NewServer calls it).
func (s *Server) registerAdvice() { s.Handle("GET /v1/advice", http.HandlerFunc(s.advice)) }

func (s *Server) advice(w http.ResponseWriter, r *http.Request) {
	ac, ok := s.ctrl.(AdviceController)
	if !ok {
		writeError(w, http.StatusNotFound, "this service gives no probe advice; it was started by an easlocal without `easlocal advise`")
		return
	}
	rep := ac.Advice()
	if rep.Advice == nil {
		rep.Advice = []Advice{}
	}
	if rep.Observed == nil {
		rep.Observed = []ObservedContainer{}
	}
	writeJSON(w, http.StatusOK, rep)
}

// Advice returns the service's probe advice and the numbers behind it.
func (c *Client) Advice(ctx context.Context) (AdviceReport, error) {
	var rep AdviceReport
	err := c.call(ctx, http.MethodGet, "/v1/advice", nil, &rep)
	return rep, err
}

// FormatAdvice is one advice as the CLI prints it:
// "c0 liveness (demo-0): startup took ..." or "c1: no readiness check ...".
func FormatAdvice(a Advice) string {
	head := a.Container
	if a.Probe != "" {
		head += " " + a.Probe
	}
	if a.Instance != "" {
		head += " (" + a.Instance + ")"
	}
	return head + ": " + a.Message
}

// Risks are the advice entries marked as a risk.
func (r AdviceReport) Risks() []Advice {
	var out []Advice
	for _, a := range r.Advice {
		if a.Risk {
			out = append(out, a)
		}
	}
	return out
}
