package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/containerd/errdefs"
)

// Rolling updates through the control API: POST /v1/update with a new
// service.json, POST /v1/restart, and the progress in GET /v1/status
// (ServiceStatus.Update).

// Updater is what a Controller implements to take updates; the routes
// answer 501 for one that does not.
type Updater interface {
	// Update starts rolling the service to the service.json in req and
	// returns the new revision without waiting for the rollout.
	Update(ctx context.Context, req UpdateRequest) (revision int, err error)
	// Restart rolls every instance to a new revision of the same spec.
	Restart(ctx context.Context, req UpdateRequest) (revision int, err error)
}

// UpdateRequest is the body of POST /v1/update and /v1/restart.
type UpdateRequest struct {
	// Service is the new service.json's text, as written (restart: empty).
	Service string `json:"service,omitempty"`
	// File names it in messages.
	File string `json:"file,omitempty"`
	// Timeout is how long a new instance may take to become ready before
	// the update pauses, as a Go duration ("2m"); "" = no limit.
	Timeout string `json:"timeout,omitempty"`
}

// TimeoutDuration parses Timeout.
func (r UpdateRequest) TimeoutDuration() (time.Duration, error) {
	if r.Timeout == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(r.Timeout)
	if err != nil || d < 0 {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("timeout %q is not a duration such as 2m", r.Timeout))
	}
	return d, nil
}

// UpdateAnswer is the answer of POST /v1/update and /v1/restart.
type UpdateAnswer struct {
	Revision int    `json:"revision"`
	Message  string `json:"message"`
}

// UpdateStatus is the state of the last rolling update.
type UpdateStatus struct {
	Revision int `json:"revision"`
	// Phase is Progressing, Complete or Paused.
	Phase string `json:"phase"`
	// Message says why the update paused (the failed instance, its last
	// exit and probe outputs) or how it ended.
	Message        string    `json:"message,omitempty"`
	Started        time.Time `json:"started,omitzero"`
	Finished       time.Time `json:"finished,omitzero"`
	Desired        int       `json:"desired"`
	Old            int       `json:"old"`
	New            int       `json:"new"`
	NewReady       int       `json:"new_ready"`
	MaxSurge       int       `json:"max_surge"`
	MaxUnavailable int       `json:"max_unavailable"`
}

// Update phases.
const (
	UpdateProgressing = "Progressing"
	UpdateComplete    = "Complete"
	UpdatePaused      = "Paused"
)

// maxServiceJSON bounds an update's body.
const maxServiceJSON = 4 << 20

func (s *Server) routeUpdates() {
	s.Handle("POST /v1/update", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.updateRoute(w, r, "update", Updater.Update)
	}))
	s.Handle("POST /v1/restart", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.updateRoute(w, r, "restart", Updater.Restart)
	}))
}

func (s *Server) updateRoute(w http.ResponseWriter, r *http.Request, what string, act func(Updater, context.Context, UpdateRequest) (int, error)) {
	u, ok := s.ctrl.(Updater)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this service cannot be updated in place")
		return
	}
	var req UpdateRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxServiceJSON))
	if err == nil && len(body) > 0 {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the service.json is larger than %d MiB", maxServiceJSON>>20))
			return
		}
		writeError(w, http.StatusBadRequest, "the request body is not an update request: "+err.Error())
		return
	}
	if what == "update" && len(req.Service) == 0 {
		writeError(w, http.StatusBadRequest, "an update needs the new service.json")
		return
	}
	rev, err := act(u, r.Context(), req)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.log.Info().Int("revision", rev).Msg(what + " started")
	writeJSON(w, http.StatusAccepted, UpdateAnswer{Revision: rev, Message: fmt.Sprintf("rolling to revision %d", rev)})
}

// Update starts a rolling update to the service.json req.Service.
func (c *Client) Update(ctx context.Context, req UpdateRequest) (UpdateAnswer, error) {
	return c.postUpdate(ctx, "/v1/update", req)
}

// Restart starts a rolling restart of every instance.
func (c *Client) Restart(ctx context.Context, req UpdateRequest) (UpdateAnswer, error) {
	return c.postUpdate(ctx, "/v1/restart", req)
}

func (c *Client) postUpdate(ctx context.Context, path string, req UpdateRequest) (UpdateAnswer, error) {
	var a UpdateAnswer
	body, err := json.Marshal(req)
	if err != nil {
		return a, err
	}
	resp, err := c.send(ctx, http.MethodPost, path, nil, bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("the control API at %s sent a malformed answer to %s: %w", c.BaseURL, path, err)
	}
	return a, nil
}
