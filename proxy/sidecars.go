package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
)

// SidecarGrace is how long a closed sidecar lets requests in flight finish
// before their connections are cut.
const SidecarGrace = 10 * time.Second

// Sidecar is the loopback address standing in for one ready instance in
// direct mode.
type Sidecar struct {
	Instance string
	Addr     netip.AddrPort
}

// Sidecars gives each ready instance its own small gateway on
// 127.0.0.1:<port>, as the per-instance sidecar does in EAS: it accepts
// /api/predict/<service>/<path>, checks the token like the gateway, and
// forwards to that instance only. It follows the endpoint set
// synchronously (endpoints.Set.OnChange): the listener exists when Set
// returns and is closed before Remove returns. An instance that comes back
// gets its previous port again when it is still free.
type Sidecars struct {
	opts Options
	log  zerolog.Logger
	pool *pool                     // shared by every sidecar
	lim  *limits                   // shared: the instances' rates and queues
	grpc *h2Relay                  // shared; nil unless EnableGRPC
	list atomic.Pointer[[]Sidecar] // sorted by instance; read by Discovery

	mu       sync.Mutex // guards the fields below (lock order: endpoints.Set, then mu)
	running  map[string]*sidecar
	lastPort map[string]uint16
	version  uint64 // snapshot version last applied
	closed   bool
	cancel   func()
	wg       sync.WaitGroup // serve and shutdown goroutines
}

// sidecar is one instance's listener and server.
type sidecar struct {
	ln   net.Listener
	srv  *Server
	gw   *Gateway
	addr netip.AddrPort
}

// NewSidecars starts following opts.Endpoints (required) and returns the
// running set. opts.Discovery and opts.NoRetry are ignored. Call Close to
// stop every sidecar.
func NewSidecars(opts Options) (*Sidecars, error) {
	if opts.Endpoints == nil {
		return nil, errors.New("proxy: Sidecars need Options.Endpoints, the set of ready instances to follow")
	}
	opts.Discovery = nil
	s := &Sidecars{
		opts:     opts,
		pool:     newPool(),
		lim:      newLimits(opts, false),
		log:      opts.Logger.With().Str("component", "sidecar").Logger(),
		running:  make(map[string]*sidecar),
		lastPort: make(map[string]uint16),
	}
	if opts.EnableGRPC {
		s.grpc = newH2Relay()
	}
	empty := []Sidecar{}
	s.list.Store(&empty)
	_, cancel := opts.Endpoints.OnChange(func(endpoints.Change) { s.reconcile() })
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	s.reconcile()
	return s, nil
}

// List returns the running sidecars sorted by instance. Do not modify it.
func (s *Sidecars) List() []Sidecar { return *s.list.Load() }

// Addr returns the sidecar address of instance.
func (s *Sidecars) Addr(instance string) (netip.AddrPort, bool) {
	for _, sc := range s.List() {
		if sc.Instance == instance {
			return sc.Addr, true
		}
	}
	return netip.AddrPort{}, false
}

// reconcile makes the running sidecars match the latest snapshot. It reads
// the snapshot itself (rather than trusting an event) so concurrent calls
// from the constructor and the set's writer converge on the newest state.
func (s *Sidecars) reconcile() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	snap := s.opts.Endpoints.Snapshot()
	if snap.Version < s.version {
		return
	}
	s.version = snap.Version
	changed := false
	for name, sc := range s.running {
		if _, _, ok := snap.Lookup(name); !ok {
			s.stopLocked(name, sc)
			changed = true
		}
	}
	for _, ep := range snap.Endpoints {
		if _, ok := s.running[ep.Instance]; ok {
			continue
		}
		sc, err := s.startLocked(ep.Instance)
		if err != nil {
			s.log.Error().Err(err).Str("instance", ep.Instance).Msg("cannot start the direct-mode sidecar; the instance stays reachable through the gateway")
			continue
		}
		s.running[ep.Instance] = sc
		changed = true
	}
	if changed {
		list := make([]Sidecar, 0, len(s.running))
		for name, sc := range s.running {
			list = append(list, Sidecar{Instance: name, Addr: sc.addr})
		}
		slices.SortFunc(list, func(a, b Sidecar) int { return strings.Compare(a.Instance, b.Instance) })
		s.list.Store(&list)
	}
}

func (s *Sidecars) startLocked(instance string) (*sidecar, error) {
	var ln net.Listener
	var err error
	if p, ok := s.lastPort[instance]; ok {
		ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(int(p)))
	}
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	s.lastPort[instance] = addr.Port()

	g := New(s.opts)
	g.instance = instance
	g.pool = s.pool
	g.lim = s.lim
	g.grpc = s.grpc
	g.log = s.log.With().Str("instance", instance).Logger()
	var sopts []ServerOption
	if s.grpc != nil {
		sopts = append(sopts, WithH2C())
	}
	srv := NewServer(g, g.log, sopts...)
	sc := &sidecar{ln: &onceCloseListener{Listener: ln}, srv: srv, gw: g, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), addr.Port())}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(sc.ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error().Err(err).Str("instance", instance).Msg("sidecar stopped")
		}
	}()
	s.log.Debug().Str("instance", instance).Stringer("addr", sc.addr).Msg("sidecar started")
	return sc, nil
}

// stopLocked closes the listener now (so the port is free and no new
// request arrives) and lets requests in flight finish in the background.
func (s *Sidecars) stopLocked(instance string, sc *sidecar) {
	delete(s.running, instance)
	_ = sc.ln.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), SidecarGrace)
		defer cancel()
		_ = sc.srv.Shutdown(ctx) // past the grace it closes the rest
		// The server no longer knows WebSocket connections: they get
		// what is left of the grace, then are closed.
		select {
		case <-sc.gw.tunnels.empty():
		case <-ctx.Done():
		}
		sc.gw.tunnels.closeAll()
	}()
	s.log.Debug().Str("instance", instance).Stringer("addr", sc.addr).Msg("sidecar stopped")
}

// Close stops following the set, closes every sidecar and waits (at most
// SidecarGrace) for their requests in flight. Idempotent.
func (s *Sidecars) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	cancel := s.cancel
	for name, sc := range s.running {
		s.stopLocked(name, sc)
	}
	empty := []Sidecar{}
	s.list.Store(&empty)
	s.mu.Unlock()
	if cancel != nil {
		cancel() // outside mu: cancel takes the set's lock
	}
	s.wg.Wait()
	s.pool.closeIdle()
	if s.grpc != nil {
		s.grpc.closeIdle()
	}
	return nil
}

// onceCloseListener lets both stopLocked and http.Server close it.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
