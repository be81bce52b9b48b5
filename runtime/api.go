package runtime

// This file is the contract the scheduler, prober adapters and CLI code
// against. Implementations live in the other files of the package.

import (
	"context"
	"io"
	"net/netip"
	"syscall"
	"time"
)

// Config configures a Runtime. Zero values mean the documented defaults.
type Config struct {
	// Address of containerd's socket (default /run/containerd/containerd.sock).
	// When nothing answers there and a containerd binary is installed, a
	// private containerd is started under StateDir and reused by later runs.
	// Setting it to PrivateAddress() uses the private containerd even when
	// a system one answers.
	Address string
	// CNIBinDir holds the CNI plugins (default /usr/lib/cni, then /opt/cni/bin).
	CNIBinDir string
	// Subnet for instance IPs (default DefaultSubnet, 10.213.0.0/16: it
	// avoids the Docker, Podman and Kubernetes defaults).
	Subnet netip.Prefix
	// StateDir holds easlocal's own state: logs, pod records, private
	// containerd, CNI config (default /var/lib/easlocal). IP leases are
	// not in it: they are in IPAMDir, shared by every state directory on
	// the same bridge and subnet.
	StateDir string
	// RunDir holds sockets and FIFOs, including the private containerd's
	// socket (default /run/easlocal).
	RunDir string
	// Bridge is the Linux bridge instances attach to (default BridgeName,
	// easlocal0; at most 15 characters). A bridge holds one IPv4 subnet, so
	// a second easlocal with another Subnet on the same host needs its own.
	Bridge string
	// LogMaxSize caps each container's log file in bytes (default
	// DefaultLogMaxSize, 10 MiB): past it the file becomes <name>.log.prev
	// (replacing the older one) and a new one starts.
	LogMaxSize int64
	// PidsLimit caps the processes (threads included) of each container
	// (default DefaultPidsLimit): a fork bomb in one instance fails its
	// own forks instead of exhausting the host's PIDs. -1 means no limit.
	PidsLimit int64
}

// PodConfig describes one instance: a network namespace with an IP.
type PodConfig struct {
	Service  string // service name (metadata.name)
	Instance string // instance name, e.g. "demo-0"; also the hostname
}

// Pod is a running instance sandbox. The IP stays for the pod's life,
// across container restarts.
type Pod struct {
	Service  string
	Instance string
	IP       netip.Addr
	NetNS    string // path of the network namespace
}

// Mount is one storage mount of a container: a host directory bound in
// (BindMount), or a fresh directory or tmpfs of the pod (mounts.go).
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
	Kind          MountKind
	// Size is the tmpfs size in bytes (TmpfsMount only; 0 = kernel default).
	Size int64
}

// ContainerConfig is one container of an instance.
type ContainerConfig struct {
	Name  string // e.g. "c0"; unique within the pod
	Image string
	// Args overrides the image's entrypoint+cmd when non-empty (command
	// already split into words, or ["/bin/sh","-c",script]).
	Args []string
	// Env is appended after the image's env (later entries win).
	Env    []string
	CPU    int // cores, 0 = no quota
	Memory int // MB, 0 = no limit
	// ShmSize is the size of /dev/shm in bytes (0: containerd's 64 MB),
	// unless a TmpfsMount at /dev/shm sets it.
	ShmSize int64
	Mounts  []Mount
	// Output, if set, receives the container's combined stdout/stderr in
	// addition to the per-container log file.
	Output io.Writer
	// OnLogDrop, if set, is told when output was lost: the log file could
	// not be written (disk full) or Output failed and was dropped. It is
	// called once per episode (the first failed write after a good one),
	// from the goroutine copying the output, so it must not block (e.g.
	// publish an event without waiting).
	OnLogDrop func(LogDrop)
}

// Container is a started container (one task).
type Container struct {
	ID      string // containerd container ID
	Name    string
	Pod     *Pod
	LogPath string
	Started time.Time

	st *ctrState // set by Runtime.StartContainer; nil in fakes
}

// ExitStatus says how a container ended.
type ExitStatus struct {
	Code      int
	Signal    syscall.Signal // 0 unless killed by a signal
	OOMKilled bool
	ExitedAt  time.Time
}

// ExecResult is the outcome of a command run inside a container.
type ExecResult struct {
	ExitCode int
	Output   []byte // combined stdout+stderr, at most 10 KiB
	TimedOut bool   // the command outlived its timeout and was killed
}

// ImageInfo is one image in easlocal's containerd namespace.
type ImageInfo struct {
	Name string
	Size int64
}

// Interface is what the rest of easlocal uses; *Runtime implements it and
// the scheduler's unit tests use a fake.
type Interface interface {
	EnsureImage(ctx context.Context, ref, dockerAuth string, progress io.Writer) error
	CreatePod(ctx context.Context, cfg PodConfig) (*Pod, error)
	// RemovePod removes every container left in the pod, then its network
	// namespace and IP lease. Idempotent.
	RemovePod(ctx context.Context, pod *Pod) error
	StartContainer(ctx context.Context, pod *Pod, cfg ContainerConfig) (*Container, error)
	// Wait returns a channel that yields the exit status once.
	Wait(ctx context.Context, c *Container) (<-chan ExitStatus, error)
	// Stop sends SIGTERM, waits up to grace, then SIGKILL, and deletes the
	// container and its snapshot.
	Stop(ctx context.Context, c *Container, grace time.Duration) (ExitStatus, error)
	Kill(ctx context.Context, c *Container, sig syscall.Signal) error
	Pause(ctx context.Context, c *Container) error
	Resume(ctx context.Context, c *Container) error
	Exec(ctx context.Context, c *Container, args []string, timeout time.Duration) (ExecResult, error)
	// Cleanup removes everything of service left by an earlier run
	// (containers, snapshots, netns, leases), e.g. after a crash.
	Cleanup(ctx context.Context, service string) error
}
