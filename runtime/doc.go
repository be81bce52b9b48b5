// Package runtime runs easlocal's instances on containerd. It is the only
// package that imports containerd; the rest of easlocal codes against
// Interface (api.go).
//
// It owns:
//
//   - the connection to containerd (client v2, tested against Debian's
//     containerd 1.6.20): Config.Address when set; otherwise the system
//     daemon at DefaultAddress; otherwise easlocal's private containerd,
//     started on demand (see below);
//   - images: EnsureImage (local image, else a pull with dockerAuth that
//     fails fast with a sentence), Load (`docker save` or OCI layout
//     archives, via the classic client.Import, unpacked to overlayfs),
//     Images;
//   - pods: one network namespace per instance, /run/easlocal/netns/
//     easlocal-<service>-<instance> (not `ip netns`'s directory, which
//     its first use mounts over; see NetNSDir), attached with go-cni to the bridge
//     Config.Bridge, default easlocal0 (one IPv4 subnet per bridge: a
//     second easlocal with another subnet needs its own bridge), with
//     host-local IPAM in Config.Subnet (default 10.213.0.0/16,
//     the host as gateway, no masquerading). The CNI config is generated
//     (a copy is in <StateDir>/cni; nothing goes to /etc/cni) and leases
//     live in IPAMDir/<network> (/var/lib/easlocal/cni/ipam/easlocal for
//     the default bridge and subnet, easlocal-<bridge>-<subnet> for
//     others): keyed by bridge and subnet, not by Config.StateDir, so two
//     runs on one bridge never share an IP. An instance keeps its IP
//     across container restarts; RemovePod releases it;
//   - containers: share the pod's namespace, hostname = instance,
//     /etc/hosts and /etc/hostname of the pod, args = ContainerConfig.Args
//     or the image's entrypoint+cmd, env = image env then cfg.Env, CPU
//     quota and memory limit (refused when they would wrap), a pids limit
//     (Config.PidsLimit, default DefaultPidsLimit), bind mounts,
//     containerd's default spec (Docker's capability set) with
//     no_new_privileges and its default seccomp profile (contrib/seccomp:
//     pure Go, no libseccomp needed here; runc applies it). An env or
//     argv execve would refuse fails StartContainer with E2BIG's reason.
//     HostMountWarnings says which host paths are risky to bind (see
//     docs/isolation.md for what a container can and cannot reach);
//   - logs: output goes to <StateDir>/logs/<service>/<instance>/
//     <container>.log (appended, so it survives restarts) and to
//     ContainerConfig.Output through a 1 MiB buffer of its own, written
//     out in batches, so a stalled terminal never blocks a container
//     (logs.go). The shim's FIFOs are read outside Go's netpoller, in
//     an epoll set of easlocal's own (one thread for all), one-shot, and
//     in batches: after a short read the next waits 5-20 ms (as long as
//     the stream takes to give 8 KiB), so a line per request is not a
//     wake-up, a read and a write per line. containerd's Cancel at
//     deletion lets the copies take what the FIFOs still hold (fifo.go).
//     A new pod
//     moves the previous run's log to .log.prev; a log reaching
//     Config.LogMaxSize (default DefaultLogMaxSize, 10 MiB) does the
//     same, so a container holds at most twice that. Lost output is
//     reported to ContainerConfig.OnLogDrop;
//   - Stop (SIGTERM, grace, SIGKILL to every process, then task, container
//     and snapshot deleted), Wait, Kill, Pause/Resume (freezer), Exec
//     (output capped at MaxExecOutput, killed at its timeout, exec entry
//     always deleted);
//   - leftovers: every container and snapshot carries the labels
//     LabelService, LabelInstance, LabelContainer; pods have a record in
//     <StateDir>/pods/<service>/<instance>, written before anything of
//     the pod exists. Cleanup(service) removes what a killed easlocal left,
//     even mid-creation (containers without tasks, snapshots without
//     containers, netns, leases), bounding each step on its own so one
//     call finishes however many there are (cleanup.go); Leftovers lists
//     it (with the fault tables and qdiscs in the namespaces);
//     Services names the services that have any;
//   - network faults (faults.go): AddNetFault/RemoveNetFault put an
//     nftables table (blackhole, reject, random loss) or a tbf qdisc
//     (bandwidth) into an instance's network namespace, run there with
//     `nsenter --net=... nft|tc`; never outside a pod's namespace.
//     RemovePod and Cleanup remove them before the namespace.
//
// CreatePod and StartContainer check their context before each step: a
// cancelled scale-up creates nothing more, and what a step half-created
// is removed before they return.
//
// Files: everything under StateDir and RunDir that can hold logs or state
// is 0600 in 0700 directories from the first write, and existing ones are
// tightened (files.go); only the pod's hosts and hostname files are 0644,
// for a container's non-root user.
//
// # Wiring
//
//	rt, err := runtime.New(ctx, runtime.Config{}, log) // needs root
//	defer rt.Close()
//	rt.Cleanup(ctx, svc)                               // leftovers of a crashed run
//	rt.EnsureImage(ctx, image, dockerAuth, os.Stderr)
//	pod, _ := rt.CreatePod(ctx, runtime.PodConfig{Service: svc, Instance: svc + "-0"})
//	c, _ := rt.StartContainer(ctx, pod, runtime.ContainerConfig{Name: "c0", Image: image,
//		Env: []string{"LISTENING_PORT=8000", "POD_NAME=" + pod.Instance, "NAMESPACE=" + svc}})
//	exitC, _ := rt.Wait(ctx, c)                // one status when it exits
//	res, _ := rt.Exec(ctx, c, []string{"cat", "/tmp/ready"}, time.Second)
//	st, _ := rt.Stop(ctx, c, 30*time.Second)  // then StartContainer again: same IP
//	rt.RemovePod(ctx, pod)
//
// Service names must be 1-63 letters, digits or '_' (EAS's rule, and what
// lets "easlocal-<service>-" name exactly one service's namespaces and
// leases); instance and container names may also use '.' and '-'.
// Preflight runs the checks `easlocal doctor` prints.
//
// # The private containerd
//
// When Config.Address is empty and no daemon answers at DefaultAddress,
// New starts `containerd --config <StateDir>/containerd/config.toml` (a
// generated version-2 config: root <StateDir>/containerd/root, state and
// socket under <RunDir>/containerd, CRI and unused snapshotters disabled)
// in its own session, logging to <StateDir>/containerd/containerd.log. It
// outlives easlocal; later runs (and concurrent ones: a flock on
// <RunDir>/containerd/start.lock, beside the socket it guards, serialises
// the check-and-start) reuse
// it. Config.Address set to Config.PrivateAddress() picks it even when a
// system containerd answers. scripts/containerd-private.sh shows its status and log, runs ctr
// against it, and stops it.
//
// # containerd restarts
//
// Containers outlive containerd (they run under their shims). When the
// daemon dies the Runtime notices through its pending waits and event
// stream, restarts the private containerd if that is the one in use,
// re-dials with back-off and waits on the same tasks again (see
// reconnect.go). Wait channels yield only real exits, so the scheduler
// restarts nothing; Exec fails during the outage (the prober discards
// such results, as the kubelet does). Reconnects counts the recoveries.
//
// # containerd 1.6 notes
//
// Everything here uses APIs containerd 1.6 serves: the classic pull and
// import (not the transfer service, which 1.6 lacks), tasks through the
// io.containerd.runc.v2 shim, and OOM detection through the /tasks/oom
// event (with memory.oom_control as a fallback). The private config must
// keep io.containerd.runtime.v1.linux enabled: 1.6's tasks service refuses
// to load without it.
//
// Side effects on the host, all reversible: the bridge easlocal0 with the
// subnet's first address (the bridge plugin also turns on
// net.ipv4.ip_forward, as Docker does); libcni's result cache in
// /var/lib/cni (entries removed on teardown).
//
// Concurrency: a Runtime is safe for concurrent use. Each started
// container has one goroutine waiting for its exit; one more goroutine per
// Runtime receives OOM events; any of them may reconnect, one at a time.
// Close stops them. Pods are attached and detached concurrently (the
// first attach, which creates the bridge, alone; host-local locks its
// lease table itself); a container with a live stream has one more
// goroutine writing it.
package runtime
