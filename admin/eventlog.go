package admin

import (
	"context"
	"sync"
	"time"
)

// EventLog is a ready-made implementation of Controller's Events and
// Subscribe: a bounded history plus fan-out to subscribers. A scheduler
// embeds one and calls Publish; it is safe for concurrent use.
type EventLog struct {
	now func() time.Time

	mu     sync.Mutex // guards everything below
	ring   []Event    // the last cap(ring) events, oldest first once full
	start  int        // index of the oldest event in ring when full
	next   int        // Seq of the next event; the first is 1
	subs   map[chan Event]struct{}
	closed bool
}

// subBuffer is how many events a subscriber may lag before it misses some.
const subBuffer = 256

// NewEventLog keeps the last capacity events (at least 1).
func NewEventLog(capacity int) *EventLog {
	if capacity < 1 {
		capacity = 1
	}
	return &EventLog{
		now:  time.Now,
		ring: make([]Event, 0, capacity),
		next: 1,
		subs: map[chan Event]struct{}{},
	}
}

// Publish stamps e with the next Seq (and the time and type Normal if
// unset), stores it and hands it to every subscriber without blocking:
// a subscriber whose buffer is full misses it. It returns the stored event.
func (l *EventLog) Publish(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = l.next
	l.next++
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if e.Type == "" {
		e.Type = EventNormal
	}
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.start] = e
		l.start = (l.start + 1) % len(l.ring)
	}
	for ch := range l.subs {
		select {
		case ch <- e:
		default:
		}
	}
	return e
}

// Events returns the retained events with Seq >= since, oldest first, and
// the Seq the next event will get.
func (l *EventLog) Events(since int) ([]Event, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for i := range l.ring {
		e := l.ring[(l.start+i)%len(l.ring)]
		if e.Seq >= since {
			out = append(out, e)
		}
	}
	return out, l.next
}

// Subscribe returns a channel of the events published from now on. It is
// closed when ctx is done or the log is closed.
func (l *EventLog) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, subBuffer)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		close(ch)
		return ch
	}
	l.subs[ch] = struct{}{}
	// This goroutine only removes the subscription; closing happens under
	// the lock, by whichever of it and Close comes first.
	go func() {
		<-ctx.Done()
		l.mu.Lock()
		defer l.mu.Unlock()
		if _, ok := l.subs[ch]; ok {
			delete(l.subs, ch)
			close(ch)
		}
	}()
	return ch
}

// Close ends every subscription (followers see the end of the stream).
// Publish still records events afterwards. Idempotent.
func (l *EventLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for ch := range l.subs {
		delete(l.subs, ch)
		close(ch)
	}
}
