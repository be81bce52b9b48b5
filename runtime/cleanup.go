package runtime

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
)

// Leftovers is what exists of one service in containerd, the network
// namespaces and the IP leases.
type Leftovers struct {
	Containers []string // containerd container IDs
	Snapshots  []string // snapshot keys
	Pods       []string // instance names with a pod record
	NetNS      []string // names in NetNSDir (or where earlier versions put them)
	Leases     []string // leased IPs
	// Faults are network faults in those namespaces, "<instance>: <id>"
	// ("bandwidth" for a tbf limit).
	Faults []string
}

// Empty reports whether nothing is left.
func (l Leftovers) Empty() bool {
	return len(l.Containers)+len(l.Snapshots)+len(l.Pods)+len(l.NetNS)+len(l.Leases)+len(l.Faults) == 0
}

// Leftovers lists what exists of service: containers and snapshots by
// label, pods by their records, namespaces by name and leases by owner.
func (r *Runtime) Leftovers(ctx context.Context, service string) (Leftovers, error) {
	var l Leftovers
	if err := checkService(service); err != nil {
		return l, err
	}
	ctx = nsCtx(ctx)
	ctrs, err := r.client.Containers(ctx, fmt.Sprintf(`labels."%s"==%q`, LabelService, service))
	if err != nil {
		return l, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range ctrs {
		l.Containers = append(l.Containers, c.ID())
	}
	l.Snapshots, err = r.snapshotsOf(ctx, service)
	if err != nil {
		return l, err
	}
	if entries, err := os.ReadDir(filepath.Join(r.cfg.podDir(), service)); err == nil {
		for _, e := range entries {
			l.Pods = append(l.Pods, e.Name())
		}
	}
	prefix := NetNSName(service, "")
	for dir, name := range podNetNS(service) {
		l.NetNS = append(l.NetNS, name)
		ns := filepath.Join(dir, name)
		if checkPodNetNS(ns) != nil {
			continue // not mounted: no faults can be in it
		}
		ids, err := netFaultsIn(ctx, ns)
		if err != nil {
			return l, fmt.Errorf("network faults of %s: %w", name, err)
		}
		for _, id := range ids {
			l.Faults = append(l.Faults, strings.TrimPrefix(name, prefix)+": "+id)
		}
	}
	for _, dir := range []string{r.cfg.LeaseDir(), r.cfg.legacyLeaseDir()} {
		if dir == "" {
			continue
		}
		owners, err := leaseOwners(dir)
		if err != nil {
			return l, fmt.Errorf("read IP leases: %w", err)
		}
		for ip, owner := range owners {
			if strings.HasPrefix(owner, prefix) {
				l.Leases = append(l.Leases, ip)
			}
		}
	}
	sort.Strings(l.Leases)
	return l, nil
}

func (r *Runtime) snapshotsOf(ctx context.Context, service string) ([]string, error) {
	var keys []string
	err := r.client.SnapshotService(Snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		keys = append(keys, info.Name)
		return nil
	}, fmt.Sprintf(`labels."%s"==%q`, LabelService, service))
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return keys, nil
}

// Cleanup removes everything of service: containers (killed first),
// their snapshots, pods' network namespaces and IP leases, including
// what an easlocal killed with SIGKILL left behind. Logs stay.
func (r *Runtime) Cleanup(ctx context.Context, service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	var errs []error
	errs = append(errs, r.removeContainers(ctx, service, ""))

	// Each step below has a time bound of its own (cleanupCtx), so that
	// a service with many leftovers is cleaned up by one call.
	cctx, cancel := cleanupCtx(ctx)
	keys, err := r.snapshotsOf(cctx, service)
	cancel()
	errs = append(errs, err)
	sn := r.client.SnapshotService(Snapshotter)
	for _, k := range keys {
		sctx, cancel := cleanupCtx(ctx)
		if err := sn.Remove(sctx, k); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", k, err))
		}
		cancel()
	}

	// Pods with a record, then namespaces and leases without one.
	svcDir := filepath.Join(r.cfg.podDir(), service)
	if entries, err := os.ReadDir(svcDir); err == nil {
		for _, e := range entries {
			rec, err := readRecord(filepath.Join(svcDir, e.Name()))
			if err != nil || rec.Service != service {
				rec = podRecord{Service: service, Instance: e.Name()}
				rec.CNIID = NetNSName(service, e.Name())
				rec.NetNS = filepath.Join(NetNSDir, rec.CNIID)
			}
			errs = append(errs, r.teardownPod(ctx, rec))
		}
	}
	prefix := NetNSName(service, "")
	for dir, name := range podNetNS(service) {
		rec := podRecord{Service: service, Instance: strings.TrimPrefix(name, prefix), NetNS: filepath.Join(dir, name), CNIID: name}
		errs = append(errs, r.teardownPod(ctx, rec))
	}
	owners, err := leaseOwners(r.cfg.LeaseDir())
	errs = append(errs, err)
	for ip, owner := range owners {
		if !strings.HasPrefix(owner, prefix) {
			continue
		}
		lctx, cancel := cleanupCtx(ctx)
		err := r.cniRemove(lctx, owner, "")
		cancel()
		if err != nil {
			// host-local releases by owner; when CNI cannot, drop the
			// lease file itself (only then: once released, the IP may
			// already belong to another instance).
			if err := os.Remove(filepath.Join(r.cfg.LeaseDir(), ip)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("release IP %s: %w", ip, err))
			}
		}
	}
	// An older easlocal's leases, in its state directory: no CNI
	// network knows them any more, so the files go.
	var old map[string]string
	if dir := r.cfg.legacyLeaseDir(); dir != "" {
		old, err = leaseOwners(dir)
		errs = append(errs, err)
	}
	for ip, owner := range old {
		if strings.HasPrefix(owner, prefix) {
			if err := os.Remove(filepath.Join(r.cfg.legacyLeaseDir(), ip)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("release IP %s: %w", ip, err))
			}
		}
	}
	os.RemoveAll(filepath.Join(r.cfg.fifoDir(), service))
	return errors.Join(errs...)
}

// Services lists the services that have anything in easlocal's
// containerd namespace or pod records, e.g. for `easlocal down` without
// a service name.
func (r *Runtime) Services(ctx context.Context) ([]string, error) {
	ctx = nsCtx(ctx)
	seen := map[string]bool{}
	ctrs, err := r.client.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range ctrs {
		if labels, err := c.Labels(ctx); err == nil && labels[LabelService] != "" {
			seen[labels[LabelService]] = true
		}
	}
	if entries, err := os.ReadDir(r.cfg.podDir()); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// removeContainers deletes every container of an instance (or of the
// whole service when instance is ""), including ones a killed easlocal
// left behind: found by label, killed, deleted with their snapshots.
func (r *Runtime) removeContainers(ctx context.Context, service, instance string) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	filter := fmt.Sprintf(`labels."%s"==%q`, LabelService, service)
	if instance != "" {
		filter += fmt.Sprintf(`,labels."%s"==%q`, LabelInstance, instance)
	}
	list, err := r.client.Containers(ctx, filter)
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", service, err)
	}
	var errs []error
	for _, ctr := range list {
		errs = append(errs, r.removeContainer(ctx, ctr))
	}
	return errors.Join(errs...)
}

// removeContainer kills and deletes one container, with a time bound of
// its own: many leftovers must not exhaust one shared budget and leave
// the rest for another `down`.
func (r *Runtime) removeContainer(ctx context.Context, ctr client.Container) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	r.mu.Lock()
	st := r.live[ctr.ID()]
	r.mu.Unlock()
	var errs []error
	if st == nil {
		st = &ctrState{id: ctr.ID(), container: ctr}
		if t, err := ctr.Task(ctx, nil); err == nil {
			st.task = t
		} else if !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("load task %s: %w", ctr.ID(), err))
		}
	}
	if st.task != nil {
		if err := st.task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !gone(err) {
			errs = append(errs, fmt.Errorf("kill %s: %w", ctr.ID(), err))
		}
		if st.done != nil {
			select {
			case <-st.done:
			case <-ctx.Done():
			}
		} else if ch, err := st.task.Wait(ctx); err == nil {
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
	}
	errs = append(errs, r.deleteContainer(ctx, st))
	return errors.Join(errs...)
}

// deleteContainer removes st's task, container and snapshot and closes
// its log, once.
func (r *Runtime) deleteContainer(ctx context.Context, st *ctrState) error {
	st.deleteOnce.Do(func() {
		ctx, cancel := cleanupCtx(ctx)
		defer cancel()
		var errs []error
		if st.task != nil {
			if _, err := st.task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete task %s: %w", st.id, err))
			}
		}
		if st.container != nil {
			if err := st.container.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete container %s: %w", st.id, err))
			}
		}
		if st.log != nil {
			st.log.Close()
		}
		r.mu.Lock()
		delete(r.live, st.id)
		r.mu.Unlock()
		st.deleteErr = errors.Join(errs...)
	})
	return st.deleteErr
}

// podNetNS yields the directory and name of each network namespace file
// of service's pods, in every directory easlocal has kept them in. It
// reads each directory when it gets there: a caller that removes the
// files it is given sees each once.
func podNetNS(service string) iter.Seq2[string, string] {
	prefix := NetNSName(service, "")
	return func(yield func(dir, name string) bool) {
		for _, dir := range netNSDirs {
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), prefix) && !yield(dir, e.Name()) {
					return
				}
			}
		}
	}
}
