package events

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Log is the service's event stream: a bounded history plus fan-out to
// subscribers. It implements Recorder (the scheduler writes to it) and
// the control API's Events and Subscribe. Safe for concurrent use.
type Log struct {
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

// NewLog keeps the last capacity events (at least 1).
func NewLog(capacity int) *Log {
	if capacity < 1 {
		capacity = 1
	}
	return &Log{
		now:  time.Now,
		ring: make([]Event, 0, capacity),
		next: 1,
		subs: map[chan Event]struct{}{},
	}
}

// Publish stamps e with the next Seq (and the time and type Normal if
// unset), stores it and hands it to every subscriber without blocking:
// a subscriber whose buffer is full misses it. It returns the stored event.
func (l *Log) Publish(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = l.next
	l.next++
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	if e.Type == "" {
		e.Type = Normal
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

// Event implements Recorder.
func (l *Log) Event(ref Ref, eventtype, reason, message string) {
	l.Publish(Event{Instance: ref.Instance, Container: ref.Container, Type: eventtype, Reason: reason, Message: message})
}

// Eventf implements Recorder.
func (l *Log) Eventf(ref Ref, eventtype, reason, format string, args ...any) {
	l.Event(ref, eventtype, reason, fmt.Sprintf(format, args...))
}

// Events returns the retained events with Seq >= since, oldest first, and
// the Seq the next event will get.
func (l *Log) Events(since int) ([]Event, int) {
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
func (l *Log) Subscribe(ctx context.Context) <-chan Event {
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
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for ch := range l.subs {
		delete(l.subs, ch)
		close(ch)
	}
}
