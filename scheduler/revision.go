package scheduler

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// revision is one version of the service's spec and what its instances
// need: the parsed service, the storage mounts, the termination rule and
// crash block. Run makes revision 1 from Options; each Update makes the
// next. Immutable once made; instances keep the one they were made from.
type revision struct {
	num        int
	svc        *service.Service
	mounts     mountPlan
	term       Termination
	crashBlock bool
}

// port is the port the gateway sends requests to.
func (r *revision) port() int { return r.svc.Containers[0].Port }

// newRevision checks svc, plans its mounts and pulls its images. The
// mounts' temporary directory is removed when Run returns.
func (s *Scheduler) newRevision(ctx context.Context, num int, svc *service.Service, term Termination, crashBlock bool) (*revision, error) {
	if svc == nil || len(svc.Containers) == 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("scheduler: the service has no containers; add one to containers[] in service.json")
	}
	for i := range svc.Containers {
		if _, err := commandArgs(&svc.Containers[i]); err != nil {
			return nil, fmt.Errorf("containers[%d]: %w", i, err)
		}
	}
	plan, err := planMounts(svc, s.opts.Mounts, s.opts.StateDir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if plan.tmpDir != "" {
		s.tmpDirs = append(s.tmpDirs, plan.tmpDir)
	}
	s.mu.Unlock()
	for _, path := range plan.unbound {
		s.event(events.Ref{}, events.Warning, events.MountUnbound, fmt.Sprintf(
			"storage mount %s is not bound to a host directory; it is an empty directory. Bind it with --mount %s=HOST_DIR",
			path, path))
	}
	seen := map[string]bool{}
	for _, c := range svc.Containers {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		if err := s.rt.EnsureImage(ctx, c.Image, svc.DockerAuth, s.opts.PullProgress); err != nil {
			return nil, fmt.Errorf("cannot get image %s: %w", c.Image, err)
		}
		s.event(events.Ref{}, events.Normal, events.Pulled, "Image "+c.Image+" is present")
	}
	return &revision{num: num, svc: svc, mounts: plan, term: term.withDefaults(), crashBlock: crashBlock}, nil
}

// removeTmpDirs removes the revisions' directories for unbound mounts.
func (s *Scheduler) removeTmpDirs() {
	s.mu.Lock()
	dirs := s.tmpDirs
	s.tmpDirs = nil
	s.mu.Unlock()
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}
