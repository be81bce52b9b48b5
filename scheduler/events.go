package scheduler

import (
	"sync"
	"time"
)

// Event is one thing that happened to an instance, named as a Kubernetes
// user knows it: Scheduled, Pulled, Created, Started, Killing, BackOff,
// Unhealthy, Ready, NotReady, Paused, Resumed, Stopped, Failed, ...
type Event struct {
	Time      time.Time `json:"time"`
	Instance  string    `json:"instance,omitempty"`
	Container string    `json:"container,omitempty"`
	// Type is "Normal" or "Warning".
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons the scheduler emits.
const (
	ReasonPulled       = "Pulled"
	ReasonCreated      = "Created" // pod (network namespace + IP) created
	ReasonStarted      = "Started" // container started
	ReasonFailed       = "Failed"  // pod or container could not be created/started
	ReasonKilling      = "Killing"
	ReasonBackOff      = "BackOff"
	ReasonExited       = "Exited"
	ReasonUnhealthy    = "Unhealthy"
	ReasonReady        = "Ready"
	ReasonNotReady     = "NotReady"
	ReasonPaused       = "Paused"
	ReasonResumed      = "Resumed"
	ReasonStopped      = "Stopped" // pod removed
	ReasonScaled       = "Scaled"
	ReasonKilled       = "Killed" // easlocal kill sent a signal
	ReasonMountUnbound = "MountNotBound"
)

// eventLog keeps the last events in a ring and fans new ones out to
// subscribers. Safe for concurrent use.
type eventLog struct {
	mu   sync.Mutex
	ring []Event
	next int  // index the next event goes to
	full bool // the ring has wrapped
	subs map[chan Event]struct{}
}

func newEventLog(size int) *eventLog {
	return &eventLog{ring: make([]Event, size), subs: map[chan Event]struct{}{}}
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
	for ch := range l.subs {
		select {
		case ch <- e:
		default: // a slow subscriber loses events rather than stall instances
		}
	}
}

func (l *eventLog) recent() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]Event(nil), l.ring[:l.next]...)
	}
	out := append([]Event(nil), l.ring[l.next:]...)
	return append(out, l.ring[:l.next]...)
}

func (l *eventLog) subscribe(buf int) (<-chan Event, func()) {
	ch := make(chan Event, buf)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, ch)
			l.mu.Unlock()
			close(ch)
		})
	}
}
