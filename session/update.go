package session

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// lifecycle is what the scheduler takes from a service.json for
// stopping and replacing instances; stopGrace (--stop-grace) overrides
// the grace period when set.
type lifecycle struct {
	term                     scheduler.Termination
	crashBlock               bool
	maxSurge, maxUnavailable string
}

func lifecycleOf(svc *service.Service, stopGrace time.Duration) lifecycle {
	m := &svc.Metadata
	l := lifecycle{term: scheduler.Termination{Grace: m.GracePeriod()}}
	if stopGrace > 0 {
		l.term.Grace = stopGrace
	}
	if m.RPC != nil {
		l.term.SIGTERM = m.RPC.EnableSigterm
	}
	if svc.Runtime != nil {
		l.crashBlock = svc.Runtime.EnableCrashBlock
	}
	if rs := m.RollingStrategy; rs != nil {
		l.maxSurge, l.maxUnavailable = string(rs.MaxSurge), string(rs.MaxUnavailable)
	}
	return l
}

// updater adds rolling updates (admin.Updater) to the controller.
type updater struct {
	*controller
	stopGrace time.Duration
}

var _ admin.Updater = updater{}

func (u updater) Update(ctx context.Context, req admin.UpdateRequest) (int, error) {
	timeout, err := req.TimeoutDuration()
	if err != nil {
		return 0, err
	}
	svc, _, err := service.Parse([]byte(req.Service))
	if err != nil {
		name := req.File
		if name == "" {
			name = "the service.json"
		}
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: %v", name, err))
	}
	l := lifecycleOf(svc, u.stopGrace)
	return u.sched.Update(ctx, scheduler.UpdateSpec{
		Service: svc, Termination: l.term, CrashBlock: l.crashBlock,
		MaxSurge: l.maxSurge, MaxUnavailable: l.maxUnavailable, Timeout: timeout,
	})
}

func (u updater) Restart(ctx context.Context, req admin.UpdateRequest) (int, error) {
	timeout, err := req.TimeoutDuration()
	if err != nil {
		return 0, err
	}
	return u.sched.Restart(ctx, timeout)
}

// updateStatus is the scheduler's last update for the control API.
func updateStatus(s *scheduler.Scheduler) *admin.UpdateStatus {
	u, ok := s.UpdateStatus()
	if !ok {
		return nil
	}
	return &admin.UpdateStatus{
		Revision: u.Revision, Phase: string(u.Phase), Message: u.Message,
		Started: u.Started, Finished: u.Finished,
		Desired: u.Desired, Old: u.Old, New: u.New, NewReady: u.NewReady,
		MaxSurge: u.Limits.MaxSurge, MaxUnavailable: u.Limits.MaxUnavailable,
	}
}
