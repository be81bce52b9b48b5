package endpoints

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is one ready instance: where its serving container listens.
type Endpoint struct {
	Instance string
	IP       netip.Addr
	Port     int
}

// AddrPort returns the endpoint's address as a netip.AddrPort.
func (e Endpoint) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(e.IP, uint16(e.Port))
}

// String returns "ip:port" (IPv6 in brackets).
func (e Endpoint) String() string { return e.AddrPort().String() }

// Kind says what happened to an endpoint.
type Kind int

const (
	Added Kind = iota + 1
	Removed
)

func (k Kind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText makes Kind readable in JSON events.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Change is one event: an endpoint added to or removed from the set.
type Change struct {
	Time     time.Time
	Kind     Kind
	Endpoint Endpoint
	Count    int // ready endpoints after the change
	Version  uint64
}

// Snapshot is an immutable view of the set. Never modify its slices.
type Snapshot struct {
	// Version grows by one with every published change (0 = empty, new set).
	Version uint64
	// Endpoints sorted by Instance.
	Endpoints []Endpoint
	// addrs[i] is Endpoints[i].String(), computed once per snapshot so the
	// request path does not format addresses.
	addrs []string
}

var emptySnapshot = &Snapshot{}

// Len returns the number of ready endpoints.
func (s *Snapshot) Len() int { return len(s.Endpoints) }

// Addr returns "ip:port" of the i-th endpoint without allocating.
func (s *Snapshot) Addr(i int) string { return s.addrs[i] }

// Lookup finds an instance's endpoint by name (binary search).
func (s *Snapshot) Lookup(instance string) (Endpoint, int, bool) {
	i, ok := slices.BinarySearchFunc(s.Endpoints, instance, func(e Endpoint, name string) int {
		return strings.Compare(e.Instance, name)
	})
	if !ok {
		return Endpoint{}, -1, false
	}
	return s.Endpoints[i], i, true
}

// SubscribeBuffer is the channel capacity of Subscribe.
const SubscribeBuffer = 256

// Subscription is a channel subscriber's state.
type Subscription struct {
	ch      chan Change
	dropped atomic.Uint64
}

// Dropped returns how many events were discarded because the channel was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Set is the live endpoint list. The zero value is an empty set ready to use.
type Set struct {
	snap atomic.Pointer[Snapshot] // written only with mu held

	mu        sync.Mutex // serializes writers; guards the fields below
	subs      map[*Subscription]struct{}
	callbacks map[*func(Change)]struct{}
	now       func() time.Time // for tests; nil = time.Now
}

// New returns an empty set.
func New() *Set { return &Set{} }

// Snapshot returns the current immutable view. Lock-free.
func (s *Set) Snapshot() *Snapshot {
	if p := s.snap.Load(); p != nil {
		return p
	}
	return emptySnapshot
}

// Set adds or updates the endpoint of instance (ep.Instance is set to
// instance). Idempotent: an identical endpoint changes nothing.
func (s *Set) Set(instance string, ep Endpoint) {
	ep.Instance = instance
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.Snapshot()
	old, i, ok := cur.Lookup(instance)
	if ok && old == ep {
		return
	}
	eps := slices.Clone(cur.Endpoints)
	if ok {
		eps = slices.Delete(eps, i, i+1)
		s.publishLocked(eps, Change{Kind: Removed, Endpoint: old})
	}
	j, _ := slices.BinarySearchFunc(eps, instance, func(e Endpoint, name string) int {
		return strings.Compare(e.Instance, name)
	})
	eps = slices.Insert(slices.Clone(eps), j, ep)
	s.publishLocked(eps, Change{Kind: Added, Endpoint: ep})
}

// Remove takes instance out of the set. Idempotent.
func (s *Set) Remove(instance string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.Snapshot()
	old, i, ok := cur.Lookup(instance)
	if !ok {
		return
	}
	eps := slices.Delete(slices.Clone(cur.Endpoints), i, i+1)
	s.publishLocked(eps, Change{Kind: Removed, Endpoint: old})
}

// publishLocked stores a new snapshot of eps (which it takes ownership of)
// and delivers c to every subscriber. s.mu must be held.
func (s *Set) publishLocked(eps []Endpoint, c Change) {
	next := &Snapshot{
		Version:   s.Snapshot().Version + 1,
		Endpoints: eps,
		addrs:     make([]string, len(eps)),
	}
	for i, e := range eps {
		next.addrs[i] = e.String()
	}
	s.snap.Store(next)

	now := time.Now
	if s.now != nil {
		now = s.now
	}
	c.Time = now()
	c.Count = len(eps)
	c.Version = next.Version
	for fn := range s.callbacks {
		(*fn)(c)
	}
	for sub := range s.subs {
		deliver(sub, c)
	}
}

// deliver sends c without blocking: when the buffer is full the oldest
// queued event is discarded. Only the writer (holding Set.mu) sends, so
// after one receive there is room.
func deliver(sub *Subscription, c Change) {
	for {
		select {
		case sub.ch <- c:
			return
		default:
		}
		select {
		case <-sub.ch:
			sub.dropped.Add(1)
		default:
		}
	}
}

// Subscribe returns a channel of changes made after the call and a cancel
// function that closes the channel (idempotent). See the package doc for
// the drop-oldest policy.
func (s *Set) Subscribe() (<-chan Change, func()) {
	ch, _, cancel := s.SubscribeWithStats()
	return ch, cancel
}

// SubscribeWithStats is Subscribe that also returns the Subscription, whose
// Dropped method counts discarded events.
func (s *Set) SubscribeWithStats() (<-chan Change, *Subscription, func()) {
	sub := &Subscription{ch: make(chan Change, SubscribeBuffer)}
	s.mu.Lock()
	if s.subs == nil {
		s.subs = make(map[*Subscription]struct{})
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return sub.ch, sub, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, sub)
			close(sub.ch)
			s.mu.Unlock()
		})
	}
}

// OnChange registers fn to be called synchronously, in order, for every
// change made after the call; it returns the snapshot current at
// registration (so the caller can sync up without missing a change) and
// a cancel function (idempotent). fn runs with the writer lock held: it
// must be quick and must not call Set or Remove.
func (s *Set) OnChange(fn func(Change)) (*Snapshot, func()) {
	p := &fn
	s.mu.Lock()
	if s.callbacks == nil {
		s.callbacks = make(map[*func(Change)]struct{})
	}
	s.callbacks[p] = struct{}{}
	snap := s.Snapshot()
	s.mu.Unlock()
	var once sync.Once
	return snap, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.callbacks, p)
			s.mu.Unlock()
		})
	}
}
