package runtime

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	gocni "github.com/containerd/go-cni"
	ctrdlog "github.com/containerd/log"
	"github.com/containerd/typeurl/v2"
	"github.com/rs/zerolog"
)

// Runtime runs instances on containerd. It is safe for concurrent use.
//
// Ownership: client, cni, cfg, address, private, bg and log are set by
// New and never change (the client re-dials itself, see reconnect.go).
// mu guards live; reconnMu serialises reconnect; bridgeMu and bridgeUp
// are cniSetup's. Each *ctrState is
// described in container.go.
type Runtime struct {
	cfg     Config
	client  *client.Client
	address string
	private bool // address is easlocal's private containerd: restart it when gone
	cni     gocni.CNI
	log     zerolog.Logger

	mu   sync.Mutex
	live map[string]*ctrState // by container ID: containers this Runtime started

	// bridgeMu holds CNI ADDs back until bridgeUp: one has succeeded, so
	// the bridge exists (cniSetup).
	bridgeMu sync.Mutex
	bridgeUp atomic.Bool

	// bg is the context of the background work (exit waits, OOM events),
	// in easlocal's namespace; Close cancels it through stopEvents.
	bg         context.Context
	reconnMu   sync.Mutex
	reconnects atomic.Int64 // successful reconnections, see Reconnects
	oomSubs    atomic.Int64 // OOM event subscriptions made (tests)

	stopEvents context.CancelFunc
	eventsDone chan struct{}
	closeOnce  sync.Once

	// execOutputHook, set by tests before any Exec, runs before each
	// write of an exec's output: a slow copy, as on a loaded machine.
	execOutputHook func()
}

var _ Interface = (*Runtime)(nil)

// New checks the prerequisites, connects to containerd (starting a private
// one when needed, see Config.Address) and loads the CNI network. Errors
// are sentences naming the fix (install containerd/runc/
// containernetworking-plugins, run as root, ...). Close releases it.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Runtime, error) {
	cfg = cfg.withDefaults()
	quietContainerdLog(log)
	if err := preflightError(append(requiredChecks(), subnetCheck(cfg.Subnet, cfg.Bridge))); err != nil {
		return nil, err
	}
	cni, err := newCNI(cfg)
	if err != nil {
		return nil, err
	}
	for _, d := range [][2]string{{cfg.StateDir, cfg.logDir()}, {cfg.StateDir, cfg.podDir()}, {cfg.RunDir, cfg.fifoDir()}} {
		if err := privateDir(d[0], d[1]); err != nil {
			return nil, err
		}
	}
	c, addr, err := connect(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		cfg:        cfg,
		client:     c,
		address:    addr,
		private:    addr == cfg.PrivateAddress(),
		cni:        cni,
		log:        log,
		live:       map[string]*ctrState{},
		eventsDone: make(chan struct{}),
	}
	ectx, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), Namespace))
	r.bg, r.stopEvents = ectx, cancel
	ready := make(chan struct{})
	go r.watchOOM(ectx, ready)
	<-ready
	log.Debug().Str("address", addr).Str("subnet", cfg.Subnet.String()).Msg("runtime ready")
	return r, nil
}

// containerd's client logs through logrus to stderr ("fetch failed" while
// a pull retries, ...); easlocal reports those errors itself, so the
// client's lines go to our logger at debug level. Process-wide, once.
var quietOnce sync.Once

func quietContainerdLog(log zerolog.Logger) {
	quietOnce.Do(func() {
		ctrdlog.L.Logger.SetOutput(zerologLines{log})
	})
}

type zerologLines struct{ log zerolog.Logger }

func (z zerologLines) Write(p []byte) (int, error) {
	z.log.Debug().Str("from", "containerd client").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// requiredChecks are the checks New cannot do without; the daemon and CNI
// are checked by connecting and loading them, with their own errors.
func requiredChecks() []Check {
	var out []Check
	if os.Geteuid() != 0 {
		out = append(out, Check{Name: "root", Detail: fmt.Sprintf("running as uid %d", os.Geteuid()),
			Fix: "containers, network namespaces and CNI need root: run easlocal with sudo"})
	}
	if _, err := findBinary("runc"); err != nil {
		out = append(out, Check{Name: "runc", Detail: "runc not found", Fix: "install the Debian/Ubuntu package runc (apt-get install runc)"})
	}
	return out
}

// Address is the socket of the containerd in use (the system one or the
// private one).
func (r *Runtime) Address() string { return r.address }

// Config is the effective configuration, defaults filled in.
func (r *Runtime) Config() Config { return r.cfg }

// Close releases the connection to containerd. Containers keep running
// (the private containerd too); Stop, RemovePod or Cleanup remove them.
// Idempotent.
func (r *Runtime) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.stopEvents()
		<-r.eventsDone
		err = r.client.Close()
	})
	return err
}

// cniSetup and cniRemove are the only ways to call r.cni. Pods are set
// up and torn down concurrently, as the kubelet does: host-local
// serialises its lease table with a lock file of its own (across
// processes too), every pod has its own netns, veth and libcni cache
// entry, and go-cni holds only a read lock for the call. What is shared
// is the bridge and its gateway address, which the first ADD creates;
// the bridge plugin tolerates losing that race (it did here with 16 at
// once), older ones did not. Until one ADD has succeeded ADDs take
// turns, which costs nothing after the first pod.
func (r *Runtime) cniSetup(ctx context.Context, id, netns string) (*gocni.Result, error) {
	if !r.bridgeUp.Load() {
		r.bridgeMu.Lock()
		defer r.bridgeMu.Unlock()
	}
	res, err := r.cni.Setup(ctx, id, netns)
	if err == nil {
		r.bridgeUp.Store(true)
	}
	return res, err
}

func (r *Runtime) cniRemove(ctx context.Context, id, netns string) error {
	return r.cni.Remove(ctx, id, netns)
}

// nsCtx returns ctx in easlocal's containerd namespace.
func nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// cleanupCtx is for teardown steps that must run even when the caller's
// context was cancelled (Ctrl-C): it keeps ctx's values, drops its
// cancellation and bounds the step instead.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(nsCtx(context.WithoutCancel(ctx)), 30*time.Second)
}

// watchOOM records containerd's OOM events (published by the shim when
// the kernel OOM-kills a process in a container's cgroup) on the state
// of the container, so its ExitStatus says OOMKilled. When the stream
// breaks (containerd restarted) it reconnects and subscribes again.
func (r *Runtime) watchOOM(ctx context.Context, ready chan<- struct{}) {
	defer close(r.eventsDone)
	for ctx.Err() == nil {
		evs, errs := r.client.Subscribe(ctx, `topic=="/tasks/oom",namespace=="`+Namespace+`"`)
		r.oomSubs.Add(1)
		if ready != nil {
			close(ready)
			ready = nil
		}
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					r.log.Warn().Err(err).Msg("containerd event stream broke; resubscribing")
				}
				break loop
			case env := <-evs:
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if oom, ok := v.(*apievents.TaskOOM); ok {
					r.mu.Lock()
					st := r.live[oom.ContainerID]
					r.mu.Unlock()
					if st != nil {
						st.oom.Store(true)
					}
					r.log.Debug().Str("container", oom.ContainerID).Msg("OOM event")
				}
			}
		}
		if err := r.reconnect(ctx); err != nil {
			return
		}
		// containerd answers but the stream broke: do not spin on it.
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
