package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// The log keeps the newest events, numbered from 1, stamped and typed.
func TestEventLogHistory(t *testing.T) {
	l := admin.NewEventLog(3)
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		l.Publish(admin.Event{Message: m})
	}
	evs, next := l.Events(0)
	if next != 6 || len(evs) != 3 {
		t.Fatalf("Events(0) = %d events, next %d; want 3, 6", len(evs), next)
	}
	for i, want := range []string{"c", "d", "e"} {
		if evs[i].Message != want || evs[i].Seq != i+3 || evs[i].Type != admin.EventNormal || evs[i].Time.IsZero() {
			t.Errorf("event %d = %+v, want message %s seq %d, Normal, stamped", i, evs[i], want, i+3)
		}
	}
	if evs, _ := l.Events(5); len(evs) != 1 || evs[0].Message != "e" {
		t.Errorf("Events(5) = %+v", evs)
	}
	if evs, next := l.Events(6); len(evs) != 0 || next != 6 {
		t.Errorf("Events(6) = %+v, %d", evs, next)
	}
	w := l.Publish(admin.Event{Type: admin.EventWarning, Time: time.Unix(1, 0)})
	if w.Type != admin.EventWarning || !w.Time.Equal(time.Unix(1, 0)) {
		t.Errorf("Publish overrode a set type or time: %+v", w)
	}
}

// Subscribers get new events; cancelling or closing ends the channel.
func TestEventLogSubscribe(t *testing.T) {
	l := admin.NewEventLog(10)
	l.Publish(admin.Event{Message: "before"})
	ctx, cancel := context.WithCancel(context.Background())
	a := l.Subscribe(ctx)
	b := l.Subscribe(context.Background())
	l.Publish(admin.Event{Message: "after"})
	for _, ch := range []<-chan admin.Event{a, b} {
		if e := <-ch; e.Message != "after" || e.Seq != 2 {
			t.Errorf("subscriber got %+v, want the event after subscribing", e)
		}
	}
	cancel()
	for range a { // closed once the cancellation is seen
	}
	l.Close()
	if _, ok := <-b; ok {
		t.Error("Close did not close a subscription")
	}
	l.Close()
	if _, ok := <-l.Subscribe(context.Background()); ok {
		t.Error("subscribing to a closed log gives an open channel")
	}
}

// A subscriber that does not read loses events but never blocks Publish.
func TestEventLogSlowSubscriber(t *testing.T) {
	l := admin.NewEventLog(10)
	ch := l.Subscribe(t.Context())
	for range 1000 {
		l.Publish(admin.Event{})
	}
	if n := len(ch); n == 0 || n >= 1000 {
		t.Errorf("slow subscriber holds %d events, want a bounded buffer", n)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]string{"SIGKILL": "SIGKILL", "kill": "SIGKILL", "9": "SIGKILL", "term": "SIGTERM",
		"SigInt": "SIGINT", " HUP ": "SIGHUP", "sigstop": "SIGSTOP"} {
		got, _, err := admin.ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "-1", "999", "SIG"} {
		if got, _, err := admin.ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) = %q, want an error", in, got)
		}
	}
}
