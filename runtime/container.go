package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Container lifecycle, as seen by this package:
//
//	StartContainer ──► running ──(exits / Kill / OOM)──► exited ──► Stop ──► deleted
//	                     │  ▲                                        ▲
//	                Pause│  │Resume                                  │
//	                     ▼  │                                        │
//	                   paused ───────────────Stop (resumes first)────┘
//
// Stop works from every state and is idempotent; after it the task,
// container and snapshot are gone and only the log file remains.

// ctrState is the runtime's side of a started container.
//
// Ownership: the fields up to done are set before the wait goroutine
// starts and never change. status is written once by the wait goroutine
// before it closes done; read it only after <-done. oom is set by the
// event goroutine or the wait goroutine. deleteOnce guards teardown.
type ctrState struct {
	id        string
	container client.Container
	task      client.Task
	process   specs.Process // the container's process spec, the base for execs
	cgroup    string        // cgroups path, e.g. /easlocal/<id>
	memLimit  bool          // a memory limit is set: a SIGKILL may be the OOM killer's
	fifoRoot  string
	log       *logWriter
	done      chan struct{}

	status ExitStatus
	oom    atomic.Bool

	deleteOnce sync.Once
	deleteErr  error
}

const runtimeName = "io.containerd.runc.v2"

// containerID names a container "<service>.<instance>.<name>.<random>":
// readable in `ctr -n easlocal c ls`, unique across restarts (the old one
// may still be deleting). Names that make no valid ID are hashed.
func containerID(service, instance, name string) string {
	var b [3]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	id := service + "." + instance + "." + name + "." + suffix
	if identifiers.Validate(id) != nil {
		sum := sha256.Sum256([]byte(service + "\x00" + instance + "\x00" + name))
		id = "easlocal-" + hex.EncodeToString(sum[:8]) + "-" + suffix
	}
	return id
}

// StartContainer creates and starts a container in pod: it shares the
// pod's network namespace, has the instance name as hostname, runs
// cfg.Args (or the image's entrypoint+cmd) with the image's env then
// cfg.Env, under cfg's CPU and memory limits, with Docker's default
// capabilities and seccomp profile. Output is appended to LogPath and
// copied to cfg.Output. The image must be present (EnsureImage or Load).
func (r *Runtime) StartContainer(ctx context.Context, pod *Pod, cfg ContainerConfig) (_ *Container, err error) {
	ctx = nsCtx(ctx)
	if pod == nil {
		return nil, errors.New("start container: no pod")
	}
	if err := checkName("container", cfg.Name); err != nil {
		return nil, err
	}
	if err := checkResources(cfg); err != nil {
		return nil, err
	}
	name, err := NormalizeRef(cfg.Image)
	if err != nil {
		return nil, err
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s is not in containerd namespace %s: pull it or load it with `easlocal load`", name, Namespace)
		}
		return nil, fmt.Errorf("look up image %s: %w", name, err)
	}
	if err := r.unpack(ctx, img); err != nil {
		return nil, err
	}

	id := containerID(pod.Service, pod.Instance, cfg.Name)
	labels := map[string]string{
		LabelService:   pod.Service,
		LabelInstance:  pod.Instance,
		LabelContainer: cfg.Name,
	}
	logPath := r.cfg.LogPath(pod.Service, pod.Instance, cfg.Name)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start container %s: %w", cfg.Name, err)
	}
	lw, err := openLog(r.cfg.logDir(), logPath, r.cfg.LogMaxSize, cfg.Output, cfg.OnLogDrop)
	if err != nil {
		return nil, err
	}
	st := &ctrState{id: id, log: lw, done: make(chan struct{}), fifoRoot: filepath.Join(r.cfg.fifoDir(), pod.Service), memLimit: cfg.Memory > 0}
	defer func() {
		if err != nil {
			r.deleteContainer(ctx, st)
			err = asCancelled(ctx, err)
		}
	}()

	specOpts, err := r.specOpts(img, pod, cfg)
	if err != nil {
		return nil, err
	}
	// containerd's calls run to completion even when ctx ends (ctx is
	// checked between them): a call cut off by the client may still have
	// created the container, snapshot or task in containerd, which this
	// function would then not know to delete.
	rpc, cancelRPC := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancelRPC()
	st.container, err = r.client.NewContainer(rpc, id,
		client.WithImage(img),
		client.WithSnapshotter(Snapshotter),
		client.WithNewSnapshot(id, img, snapshots.WithLabels(labels)),
		client.WithNewSpec(specOpts...),
		client.WithContainerLabels(labels),
		client.WithRuntime(runtimeName, nil),
	)
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", cfg.Name, err)
	}
	spec, err := st.container.Spec(rpc)
	if err != nil {
		return nil, fmt.Errorf("read spec of container %s: %w", cfg.Name, err)
	}
	st.process = *spec.Process
	st.cgroup = spec.Linux.CgroupsPath
	// runc would start the task and fail the exec, which looks like any
	// "exited with code 1": say why before anything runs.
	if err := checkExecSize(spec.Process.Args, spec.Process.Env); err != nil {
		return nil, fmt.Errorf("container %s: %w", cfg.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start container %s: %w", cfg.Name, err)
	}

	// stdout and stderr: FIFOs read in batches into lw (fifo.go).
	st.task, err = st.container.NewTask(rpc, newOutput(st.fifoRoot, lw, lw, true))
	if err != nil {
		return nil, fmt.Errorf("create task of container %s: %w", cfg.Name, startHint(err))
	}
	// Wait before Start so a process that exits at once is not missed.
	// The wait outlives ctx: it ends when the task exits or is deleted,
	// or at Close.
	exitC, err := st.task.Wait(r.bg)
	if err != nil {
		return nil, fmt.Errorf("wait on container %s: %w", cfg.Name, err)
	}
	r.mu.Lock()
	r.live[id] = st
	r.mu.Unlock()
	if err := st.task.Start(rpc); err != nil {
		r.mu.Lock()
		delete(r.live, id)
		r.mu.Unlock()
		return nil, fmt.Errorf("start container %s: %w", cfg.Name, startHint(err))
	}
	go r.waitExit(st, exitC)
	r.log.Debug().Str("id", id).Str("instance", pod.Instance).Uint32("pid", st.task.Pid()).Msg("container started")
	return &Container{ID: id, Name: cfg.Name, Pod: pod, LogPath: logPath, Started: time.Now(), st: st}, nil
}

// startHint adds the likely fix to runc's most common start failure.
func startHint(err error) error {
	if strings.Contains(err.Error(), "executable file not found") || strings.Contains(err.Error(), "no such file or directory") {
		return fmt.Errorf("%w (the command does not exist in the image: check command/script)", err)
	}
	return err
}

// cfsPeriod is the kernel's default CFS period in µs; a CPU limit of n
// cores is a quota of n periods.
const cfsPeriod = 100000

// Largest limits that survive conversion to what the kernel takes: the
// memory limit in bytes is an int64, and the CFS quota at most 2^44-1 µs
// (the scheduler's MAX_BW).
const (
	maxMemoryMB = math.MaxInt64 >> 20
	maxCPU      = (1<<44 - 1) / cfsPeriod
)

// checkResources refuses limits that would wrap or be refused when
// converted, rather than silently running with another limit.
func checkResources(cfg ContainerConfig) error {
	if cfg.Memory < 0 || int64(cfg.Memory) > maxMemoryMB {
		return fmt.Errorf("container %s: memory limit %d MB: use 0 (no limit) up to %d MB", cfg.Name, cfg.Memory, int64(maxMemoryMB))
	}
	if cfg.CPU < 0 || int64(cfg.CPU) > maxCPU {
		return fmt.Errorf("container %s: CPU limit %d cores: use 0 (no quota) up to %d cores", cfg.Name, cfg.CPU, maxCPU)
	}
	return nil
}

// Linux's execve limits (fs/exec.c): one argument or env entry may be
// at most MAX_ARG_STRLEN (32 pages); all of them with their pointers at
// most a quarter of the stack limit, between ARG_MAX and 3/4 of _STK_LIM.
const (
	maxArgStrlen = 32 * 4096
	minArgTotal  = 128 << 10
	maxArgTotal  = 6 << 20
)

// checkExecSize fails, naming the reason execve would give (E2BIG), when
// args and env cannot be passed to the container's process. The total is
// checked against easlocal's own stack limit, which the shim and runc
// inherit unless containerd was started with another.
func checkExecSize(args, env []string) error {
	limit := uint64(maxArgTotal)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_STACK, &rl); err == nil && rl.Cur/4 < limit {
		limit = max(rl.Cur/4, minArgTotal)
	}
	total := uint64(0)
	for i, list := range [][]string{args, env} {
		for _, a := range list {
			if len(a)+1 > maxArgStrlen {
				what := "an argument"
				if i == 1 {
					name, _, _ := strings.Cut(a, "=")
					what = "env " + truncate(name, 40) // not the value: it may be a secret
				}
				return fmt.Errorf("%s is %d bytes; exec allows at most %d per entry, so it would fail with argument list too long (E2BIG): shorten it or pass the data in a file", what, len(a), maxArgStrlen-1)
			}
			total += uint64(len(a)) + 1 + 8
		}
	}
	if total > limit {
		return fmt.Errorf("the environment and arguments take %d bytes; exec allows at most %d, so it would fail with argument list too long (E2BIG): shorten them or pass the data in a file", total, limit)
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// specOpts builds the OCI spec: containerd's defaults (Docker's
// capability set, masked /proc paths, no new privileges), the image
// config, then easlocal's settings, then the default seccomp profile
// (pure Go: contrib/seccomp needs no libseccomp; runc applies it).
func (r *Runtime) specOpts(img client.Image, pod *Pod, cfg ContainerConfig) ([]oci.SpecOpts, error) {
	podDir := r.podPath(pod.Service, pod.Instance)
	mounts := []specs.Mount{
		{Type: "bind", Source: filepath.Join(podDir, "hosts"), Destination: "/etc/hosts", Options: []string{"rbind", "ro"}},
		{Type: "bind", Source: filepath.Join(podDir, "hostname"), Destination: "/etc/hostname", Options: []string{"rbind", "ro"}},
	}
	storage, err := r.storageMounts(podDir, cfg)
	if err != nil {
		return nil, err
	}
	mounts = append(mounts, storage...)

	opts := []oci.SpecOpts{
		oci.WithDefaultSpec(),
		oci.WithDefaultUnixDevices,
		oci.WithImageConfig(img),
		oci.WithHostname(pod.Instance),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: pod.NetNS}),
		withMounts(mounts),
		oci.WithRlimit(nofileLimit()),
	}
	if len(cfg.Args) > 0 {
		opts = append(opts, oci.WithProcessArgs(cfg.Args...))
	}
	if len(cfg.Env) > 0 {
		opts = append(opts, oci.WithEnv(cfg.Env))
	}
	if cfg.Memory > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(cfg.Memory)<<20))
	}
	if cfg.CPU > 0 {
		opts = append(opts, oci.WithCPUCFS(int64(cfg.CPU)*cfsPeriod, cfsPeriod))
	}
	if pids := r.cfg.pidsLimit(); pids > 0 {
		opts = append(opts, oci.WithPidsLimit(pids))
	}
	// containerd's default spec sets no_new_privileges already; said
	// again so that a change of defaults cannot drop it.
	opts = append(opts, oci.WithNoNewPrivileges, seccomp.WithDefaultProfile())
	return opts, nil
}

// nofileLimit raises containerd's default of 1024 open files (too few
// for a server under load) to 65536, or to easlocal's own hard limit when
// that is lower: raising beyond it needs CAP_SYS_RESOURCE.
func nofileLimit() *specs.POSIXRlimit {
	n := uint64(65536)
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Max < n {
		n = rl.Max
	}
	return &specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: n, Soft: n}
}

// waitExit runs in its own goroutine per container: it turns the task's
// exit into an ExitStatus and publishes it by closing st.done. A wait
// that fails because containerd went away is not an exit: it reconnects
// and waits again (reconnect.go). A task that is gone, or a wait that
// keeps failing while containerd answers, is reported as Code -1.
func (r *Runtime) waitExit(st *ctrState, exitC <-chan client.ExitStatus) {
	var es client.ExitStatus
	for retries := 0; ; retries++ {
		es = <-exitC
		err := es.Error()
		if err == nil || taskGone(err) || r.bg.Err() != nil || retries == maxWaitRetries {
			break
		}
		r.log.Warn().Err(err).Str("id", st.id).Msg("lost the wait on a container (containerd went away?); waiting again")
		before := r.reconnects.Load()
		if r.reconnect(r.bg) != nil {
			break // Close
		}
		if r.reconnects.Load() != before {
			retries = 0 // an outage, not a wait that keeps failing
		} else {
			select {
			case <-r.bg.Done():
			case <-time.After(time.Duration(retries+1) * 100 * time.Millisecond):
			}
		}
		exitC, _ = st.task.Wait(r.bg) // never fails: errors come on the channel
	}
	code := int(es.ExitCode())
	status := ExitStatus{Code: code, ExitedAt: es.ExitTime()}
	if es.Error() != nil {
		status.Code = -1
		if r.bg.Err() == nil {
			r.log.Warn().Err(es.Error()).Str("id", st.id).Msg("cannot tell how the container ended")
		}
	}
	// runc reports a process killed by signal N as 128+N.
	if code > 128 && code < 128+65 {
		status.Signal = syscall.Signal(code - 128)
	}
	if status.Signal == syscall.SIGKILL {
		status.OOMKilled = st.oom.Load() || cgroupOOMKilled(st.cgroup)
		if !status.OOMKilled && st.memLimit {
			// The shim may publish the OOM event just after the exit:
			// give it a moment.
			time.Sleep(100 * time.Millisecond)
			status.OOMKilled = st.oom.Load()
		}
	}
	st.status = status
	close(st.done)
	r.log.Debug().Str("id", st.id).Int("code", status.Code).Bool("oom", status.OOMKilled).Msg("container exited")
}

// cgroupOOMKilled reads the kernel's count of OOM kills in a cgroup v1
// memory cgroup (or v2 memory.events), which outlives the process until
// the task is deleted.
func cgroupOOMKilled(cgroup string) bool {
	if cgroup == "" {
		return false
	}
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup/memory", cgroup, "memory.oom_control"),
		filepath.Join("/sys/fs/cgroup", cgroup, "memory.events"),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" && f[1] != "0" {
				return true
			}
		}
	}
	return false
}

// state finds the runtime's record of c.
func (r *Runtime) state(c *Container) (*ctrState, error) {
	if c == nil {
		return nil, errors.New("no container")
	}
	if c.st != nil {
		return c.st, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.live[c.ID]; st != nil {
		return st, nil
	}
	return nil, fmt.Errorf("container %s was not started by this easlocal", c.ID)
}

// Wait returns a channel that yields c's exit status once, or is closed
// without a value if ctx ends first.
func (r *Runtime) Wait(ctx context.Context, c *Container) (<-chan ExitStatus, error) {
	st, err := r.state(c)
	if err != nil {
		return nil, err
	}
	ch := make(chan ExitStatus, 1)
	go func() {
		defer close(ch)
		select {
		case <-st.done:
			ch <- st.status
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// Stop sends SIGTERM, waits up to grace for the container to exit, then
// sends SIGKILL to every process of the container, and deletes its task,
// container and snapshot. It returns how the container ended. Stopping a
// stopped container returns the same status again. When ctx ends during
// the grace period SIGKILL is sent at once; the teardown itself still
// runs (bounded by its own timeout).
func (r *Runtime) Stop(ctx context.Context, c *Container, grace time.Duration) (ExitStatus, error) {
	st, err := r.state(c)
	if err != nil {
		return ExitStatus{}, err
	}
	kctx, cancel := cleanupCtx(ctx)
	defer cancel()
	select {
	case <-st.done:
	default:
		// A frozen process cannot handle SIGTERM: thaw it first.
		if s, err := st.task.Status(kctx); err == nil && s.Status == client.Paused {
			st.task.Resume(kctx)
		}
		if err := st.task.Kill(kctx, syscall.SIGTERM); err != nil && !gone(err) {
			r.log.Warn().Err(err).Str("id", st.id).Msg("SIGTERM failed")
		}
		timer := time.NewTimer(grace)
		select {
		case <-st.done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		select {
		case <-st.done:
		default:
			if err := st.task.Kill(kctx, syscall.SIGKILL, client.WithKillAll); err != nil && !gone(err) {
				return ExitStatus{}, fmt.Errorf("kill container %s: %w", c.Name, err)
			}
			select {
			case <-st.done:
			case <-kctx.Done():
				return ExitStatus{}, fmt.Errorf("container %s did not exit after SIGKILL: %w", c.Name, kctx.Err())
			}
		}
	}
	return st.status, r.deleteContainer(ctx, st)
}

// gone reports errors meaning the process already exited.
func gone(err error) bool {
	return errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) ||
		strings.Contains(err.Error(), "process already finished")
}

// Kill sends sig to the container's main process.
func (r *Runtime) Kill(ctx context.Context, c *Container, sig syscall.Signal) error {
	return r.onTask(c, fmt.Sprintf("send %s to", sig), func(task client.Task) error { return task.Kill(nsCtx(ctx), sig) })
}

// Pause freezes every process of the container (cgroup freezer).
func (r *Runtime) Pause(ctx context.Context, c *Container) error {
	return r.onTask(c, "pause", func(task client.Task) error { return task.Pause(nsCtx(ctx)) })
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, c *Container) error {
	return r.onTask(c, "resume", func(task client.Task) error { return task.Resume(nsCtx(ctx)) })
}

// onTask runs do on the task of c; its error says "<what> container
// <name>".
func (r *Runtime) onTask(c *Container, what string, do func(client.Task) error) error {
	st, err := r.state(c)
	if err != nil {
		return err
	}
	if err := do(st.task); err != nil {
		return fmt.Errorf("%s container %s: %w", what, c.Name, err)
	}
	return nil
}
