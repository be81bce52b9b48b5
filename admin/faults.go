package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Fault kinds (Fault.Kind).
const (
	FaultBlackhole = "blackhole"  // network: drop every packet of the instance
	FaultReject    = "reject"     // network: refuse (TCP reset, ICMP unreachable)
	FaultLoss      = "loss"       // network: drop Percent of the packets
	FaultBandwidth = "bandwidth"  // network: limit what the instance sends to Rate
	FaultHTTPDelay = "http-delay" // gateway: add Delay to a share of requests
	FaultHTTPAbort = "http-abort" // gateway: answer Status (or Reset) instead of forwarding
	FaultKill      = "kill"       // SIGKILL the instance's containers (a crash)
	FaultPause     = "pause"      // freeze the instance (until For ends, or cleared)
	FaultExit      = "exit"       // the app ends itself: `kill 1` (SIGTERM) run inside the container
)

// FaultKinds lists every kind, in the order help texts show them.
var FaultKinds = []string{FaultBlackhole, FaultReject, FaultLoss, FaultBandwidth, FaultHTTPDelay, FaultHTTPAbort, FaultKill, FaultPause, FaultExit}

// Fault is one injected fault: what POST /v1/faults takes and GET
// /v1/faults lists. In JSON, Delay and For are duration strings ("200ms",
// "5s"), and a kind may be written with '_' for '-' (http_delay).
type Fault struct {
	// ID is set by the service.
	ID string `json:"id,omitempty"`
	// Instance is the instance's name; "" means the whole service (HTTP
	// faults only).
	Instance string `json:"instance,omitempty"`
	Kind     string `json:"kind"`
	// Percent: the share of packets (loss, required) or of requests
	// (http-delay, http-abort; 0 means all), 1-100.
	Percent int `json:"percent,omitempty"`
	// Status answers http-abort's requests; Reset closes their
	// connections instead.
	Status int  `json:"status,omitempty"`
	Reset  bool `json:"reset,omitempty"`
	// First limits an HTTP fault to the first N requests it hits.
	First int `json:"first,omitempty"`
	// Delay is http-delay's added latency.
	Delay time.Duration `json:"-"`
	// Rate is bandwidth's limit in tc's notation, e.g. "1mbit".
	Rate string `json:"rate,omitempty"`
	// For reverts the fault after this long; 0 keeps it until cleared or
	// the service stops.
	For time.Duration `json:"-"`

	// Set by the service in answers.
	Started time.Time `json:"started,omitzero"`
	Ends    time.Time `json:"ends,omitzero"` // zero: until cleared
	Hits    int       `json:"hits,omitempty"`
}

type faultJSON struct {
	faultAlias
	Delay string `json:"delay,omitempty"`
	For   string `json:"for,omitempty"`
}

type faultAlias Fault

// MarshalJSON writes Delay and For as duration strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{faultAlias: faultAlias(f)}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	if f.For != 0 {
		j.For = f.For.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads Delay and For as duration strings.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return j.to(f)
}

func (j faultJSON) to(f *Fault) error {
	*f = Fault(j.faultAlias)
	for _, d := range []struct {
		name string
		raw  string
		to   *time.Duration
	}{{"delay", j.Delay, &f.Delay}, {"for", j.For, &f.For}} {
		if d.raw == "" {
			continue
		}
		v, err := time.ParseDuration(d.raw)
		if err != nil {
			return fmt.Errorf("%s %q: give a duration such as 200ms or 5s", d.name, d.raw)
		}
		*d.to = v
	}
	return nil
}

// HTTP reports whether f is a gateway fault (http-delay or http-abort).
func (f Fault) HTTP() bool { return f.Kind == FaultHTTPDelay || f.Kind == FaultHTTPAbort }

// Effect is f's kind with the setting that sizes it, in a few words:
// "loss 30%", "bandwidth 1mbit", "http-delay 200ms", "http-abort 503",
// "http-abort reset", or the kind alone.
func (f Fault) Effect() string {
	s := f.Kind
	switch f.Kind {
	case FaultLoss:
		s += fmt.Sprintf(" %d%%", f.Percent)
	case FaultBandwidth:
		s += " " + f.Rate
	case FaultHTTPDelay:
		s += " " + f.Delay.String()
	case FaultHTTPAbort:
		if f.Reset {
			s += " reset"
		} else {
			s += fmt.Sprint(" ", f.Status)
		}
	}
	return s
}

// Validate says what is wrong with f, naming the field and how to fix
// it. Kind may use '_' for '-'; Validate normalises it.
func (f *Fault) Validate() error {
	f.Kind = strings.ReplaceAll(strings.ToLower(f.Kind), "_", "-")
	bad := func(format string, args ...any) error {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("fault %s: ", f.Kind) + fmt.Sprintf(format, args...))
	}
	if f.For < 0 {
		return bad("for %s is negative", f.For)
	}
	if f.Percent < 0 || f.Percent > 100 {
		return bad("percent %d is not a share from 1 to 100", f.Percent)
	}
	if f.First < 0 {
		return bad("first %d is negative", f.First)
	}
	http := f.HTTP()
	if !http && (f.First != 0 || f.Status != 0 || f.Reset || f.Delay != 0) {
		return bad("first, status, reset and delay apply to http-delay and http-abort only")
	}
	if f.Instance == "" && !http {
		return bad("name an instance (only http-delay and http-abort can apply to the whole service)")
	}
	if f.Kind != FaultLoss && !http && f.Percent != 0 {
		return bad("percent applies to loss, http-delay and http-abort only")
	}
	if f.Kind != FaultBandwidth && f.Rate != "" {
		return bad("rate applies to bandwidth only")
	}
	switch f.Kind {
	case FaultBlackhole, FaultReject, FaultPause:
	case FaultKill, FaultExit:
		if f.For != 0 {
			return bad("for does not apply: the instance is restarted per the restart policy")
		}
	case FaultLoss:
		if f.Percent == 0 {
			return bad("give the share of packets to drop: percent from 1 to 100")
		}
	case FaultBandwidth:
		if f.Rate == "" {
			return bad("give a rate, e.g. 1mbit")
		}
	case FaultHTTPDelay:
		if f.Delay <= 0 {
			return bad("give the latency to add: delay, e.g. 200ms")
		}
	case FaultHTTPAbort:
		if (f.Status == 0) == !f.Reset {
			return bad("give either a status to answer (e.g. 503) or reset")
		}
		if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
			return bad("status %d is not an HTTP status from 200 to 599", f.Status)
		}
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("fault kind %q: use one of %s", f.Kind, strings.Join(FaultKinds, ", ")))
	}
	return nil
}

// FaultController is what a Controller implements to take faults; the
// Server answers 501 on /v1/faults for one that does not.
type FaultController interface {
	// InjectFault starts a validated fault and returns it with ID,
	// Started and Ends set.
	InjectFault(f Fault) (Fault, error)
	// Faults lists the active faults, oldest first.
	Faults() []Fault
	// ClearFault reverts one fault (errdefs.ErrNotFound when unknown);
	// ClearFaults reverts them all.
	ClearFault(id string) error
	ClearFaults() error
}

// maxFaultBody bounds a POST /v1/faults body.
const maxFaultBody = 64 << 10

// registerFaults adds the /v1/faults routes.
func (s *Server) registerFaults() {
	fc, _ := s.ctrl.(FaultController)
	handle := func(pattern string, h func(FaultController, http.ResponseWriter, *http.Request)) {
		// Through Handle, like every API route: behind the token.
		s.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fc == nil {
				writeError(w, http.StatusNotImplemented, "this service does not take faults")
				return
			}
			h(fc, w, r)
		}))
	}
	handle("POST /v1/faults", s.injectFault)
	handle("GET /v1/faults", func(fc FaultController, w http.ResponseWriter, r *http.Request) {
		list := fc.Faults()
		if list == nil {
			list = []Fault{}
		}
		writeJSON(w, http.StatusOK, list)
	})
	handle("DELETE /v1/faults/{id}", func(fc FaultController, w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := fc.ClearFault(id); err != nil {
			s.writeErr(w, err)
			return
		}
		s.log.Info().Str("fault", id).Msg("fault cleared")
		writeMessage(w, http.StatusOK, "fault "+id+" cleared")
	})
	handle("DELETE /v1/faults", func(fc FaultController, w http.ResponseWriter, r *http.Request) {
		if err := fc.ClearFaults(); err != nil {
			s.writeErr(w, err)
			return
		}
		s.log.Info().Msg("faults cleared")
		writeMessage(w, http.StatusOK, "every fault cleared")
	})
}

func (s *Server) injectFault(fc FaultController, w http.ResponseWriter, r *http.Request) {
	// Decoded as faultJSON, not Fault: a custom UnmarshalJSON would not
	// refuse unknown fields (a typo must not be silently ignored).
	var j faultJSON
	var f Fault
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFaultBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&j)
	if err == nil {
		err = j.to(&f)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "the fault is not valid JSON: "+err.Error()+`; send e.g. {"instance": "demo-0", "kind": "blackhole", "for": "5s"}`)
		return
	}
	f.ID, f.Started, f.Ends, f.Hits = "", time.Time{}, time.Time{}, 0
	if err := f.Validate(); err != nil {
		s.writeErr(w, err)
		return
	}
	out, err := fc.InjectFault(f)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Str("fault", out.ID).Str("kind", out.Kind).Str("instance", out.Instance).Msg("fault injected")
	writeJSON(w, http.StatusOK, struct {
		ID string `json:"id"`
	}{out.ID})
}

// InjectFault starts a fault and returns its ID.
func (c *Client) InjectFault(ctx context.Context, f Fault) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/faults", nil, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ID == "" {
		return "", fmt.Errorf("the control API at %s sent a malformed answer to POST /v1/faults (no fault id)", c.BaseURL)
	}
	return out.ID, nil
}

// ListFaults lists the active faults.
func (c *Client) ListFaults(ctx context.Context) ([]Fault, error) {
	var list []Fault
	err := c.call(ctx, http.MethodGet, "/v1/faults", nil, &list)
	return list, err
}

// ClearFault reverts one fault; an unknown id is errdefs.ErrNotFound.
func (c *Client) ClearFault(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/faults/"+url.PathEscape(id), nil, nil)
}

// ClearFaults reverts every fault.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.call(ctx, http.MethodDelete, "/v1/faults", nil, nil)
}
