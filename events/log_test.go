package events_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/easlocal/easlocal/events"
)

// The log keeps the newest events, numbered from 1, stamped and typed.
func TestLogHistory(t *testing.T) {
	l := events.NewLog(3)
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		l.Publish(events.Event{Message: m})
	}
	evs, next := l.Events(0)
	if next != 6 || len(evs) != 3 {
		t.Fatalf("Events(0) = %d events, next %d; want 3, 6", len(evs), next)
	}
	for i, want := range []string{"c", "d", "e"} {
		if evs[i].Message != want || evs[i].Seq != i+3 || evs[i].Type != events.Normal || evs[i].Time.IsZero() {
			t.Errorf("event %d = %+v, want message %s seq %d, Normal, stamped", i, evs[i], want, i+3)
		}
	}
	if evs, _ := l.Events(5); len(evs) != 1 || evs[0].Message != "e" {
		t.Errorf("Events(5) = %+v", evs)
	}
	if evs, next := l.Events(6); len(evs) != 0 || next != 6 {
		t.Errorf("Events(6) = %+v, %d", evs, next)
	}
	w := l.Publish(events.Event{Type: events.Warning, Time: time.Unix(1, 0)})
	if w.Type != events.Warning || !w.Time.Equal(time.Unix(1, 0)) {
		t.Errorf("Publish overrode a set type or time: %+v", w)
	}
}

// Subscribers get new events; cancelling or closing ends the channel.
func TestLogSubscribe(t *testing.T) {
	l := events.NewLog(10)
	l.Publish(events.Event{Message: "before"})
	ctx, cancel := context.WithCancel(context.Background())
	a := l.Subscribe(ctx)
	b := l.Subscribe(context.Background())
	l.Publish(events.Event{Message: "after"})
	for _, ch := range []<-chan events.Event{a, b} {
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
func TestLogSlowSubscriber(t *testing.T) {
	l := events.NewLog(10)
	ch := l.Subscribe(t.Context())
	for range 1000 {
		l.Publish(events.Event{})
	}
	if n := len(ch); n == 0 || n >= 1000 {
		t.Errorf("slow subscriber holds %d events, want a bounded buffer", n)
	}
}

// The ring keeps the last events while a subscriber sees every one;
// publishing after a subscription ended does not panic.
func TestLogRingAndSubscribe(t *testing.T) {
	l := events.NewLog(3)
	ctx, cancel := context.WithCancel(context.Background())
	ch := l.Subscribe(ctx)
	for i := range 5 {
		l.Event(events.Ref{}, events.Normal, string(rune('a'+i)), "")
	}
	evs, _ := l.Events(0)
	var got []string
	for _, e := range evs {
		got = append(got, e.Reason)
	}
	if !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("ring keeps %v, want the last 3", got)
	}
	if len(ch) != 5 {
		t.Errorf("subscriber got %d events, want 5", len(ch))
	}
	cancel()
	for range ch { // closed once the cancellation is seen
	}
	l.Eventf(events.Ref{Instance: "demo-0"}, events.Warning, "f", "n=%d", 1) // no panic on a closed subscription
	if evs, _ := l.Events(6); len(evs) != 1 || evs[0].Message != "n=1" || evs[0].Instance != "demo-0" || evs[0].Type != events.Warning {
		t.Errorf("Eventf stored %+v", evs)
	}
}
