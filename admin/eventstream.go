package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/easlocal/easlocal/events"
)

// EventsPage is the answer to GET /v1/events without follow.
type EventsPage struct {
	Events []events.Event `json:"events"`
	Next   int            `json:"next"`
}

// events answers the retained events since ?since=N, or with ?follow=1
// streams them and every later one: JSON lines by default, server-sent
// events when the client accepts text/event-stream (the dashboard).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := intParam(q.Get("since"), 0)
	if err != nil || since < 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("since=%q: use a non-negative event number", q.Get("since")))
		return
	}
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	if id := r.Header.Get("Last-Event-ID"); sse && id != "" {
		if n, err := strconv.Atoi(id); err == nil {
			since = n + 1
		}
	}
	if !isTrue(q.Get("follow")) && !sse {
		evs, next := s.ctrl.Events(since)
		if evs == nil {
			evs = []events.Event{}
		}
		writeJSON(w, http.StatusOK, EventsPage{Events: evs, Next: next})
		return
	}

	// Subscribe before reading the backlog so nothing falls in between;
	// Seq numbers drop the overlap and reveal gaps to refill.
	ctx := r.Context()
	ch := s.ctrl.Subscribe(ctx)
	backlog, next := s.ctrl.Events(since)
	rc := http.NewResponseController(w)
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(e events.Event) error {
		b, _ := json.Marshal(e)
		if sse {
			_, err := fmt.Fprintf(w, "id: %d\nevent: event\ndata: %s\n\n", e.Seq, b)
			return err
		}
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for _, e := range backlog {
		if err := send(e); err != nil {
			return
		}
	}
	rc.Flush()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if e.Seq < next {
				continue // already sent with the backlog
			}
			// The channel may have dropped events for a slow follower; a
			// drop only happens while its buffer is full, so a later
			// wake-up always comes: send everything new from the history.
			missed, _ := s.ctrl.Events(next)
			for _, m := range missed {
				if m.Seq >= next && m.Seq <= e.Seq {
					if err := send(m); err != nil {
						return
					}
					next = m.Seq + 1
				}
			}
			if e.Seq >= next { // already gone from the history
				if err := send(e); err != nil {
					return
				}
				next = e.Seq + 1
			}
			rc.Flush()
		}
	}
}
