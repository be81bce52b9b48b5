package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// Rolling updates: Update makes a new revision the current one; reconcile
// (Run's goroutine) then plays Roll until every instance runs it, or
// pauses when a new instance fails.

// UpdateSpec is a new version of the service to roll out.
type UpdateSpec struct {
	// Service is the new service.json; its metadata.instance is the new
	// desired count. Its name must be the running service's.
	Service *service.Service
	// Termination and CrashBlock of the new revision (see Options).
	Termination Termination
	CrashBlock  bool
	// MaxSurge and MaxUnavailable are rolling_strategy's values ("" =
	// the defaults: 2% with a minimum of 1, and 0); see ResolveRollLimits.
	MaxSurge, MaxUnavailable string
	// Timeout is how long a new instance may take to become ready before
	// the update pauses (0 = no limit; a failed probe or crash pauses it
	// at once in any case).
	Timeout time.Duration
}

// UpdatePhase is where a rolling update is.
type UpdatePhase string

const (
	UpdateProgressing UpdatePhase = "Progressing"
	UpdateComplete    UpdatePhase = "Complete"
	// UpdatePaused: a new instance failed or was not ready in time; the
	// old instances keep serving, the failed one gets no traffic, and the
	// next update removes it first.
	UpdatePaused UpdatePhase = "Paused"
)

// UpdateStatus is the state of the last rolling update.
type UpdateStatus struct {
	Revision int
	Phase    UpdatePhase
	// Message says why the update paused (the failed instance, its last
	// exit and probe outputs), or how it ended.
	Message  string
	Started  time.Time
	Finished time.Time // zero while progressing
	Limits   RollLimits
	// Counts as of the last step (instances being terminated excluded).
	Desired, Old, New, NewReady int
}

// update is the rolling update in progress or the last one; owned by
// Scheduler.mu.
type update struct {
	spec   UpdateSpec
	status UpdateStatus
}

// Update rolls the service to spec: the new revision's images are pulled
// first (the call returns an error and nothing changes when that fails),
// then the failed new instances of an unfinished update are removed, and
// Run's goroutine starts up to MaxSurge new instances, waits until they
// are ready, stops up to MaxUnavailable old ones (Termination rule), and
// repeats. It returns the new revision number without waiting; follow
// UpdateStatus.
func (s *Scheduler) Update(ctx context.Context, spec UpdateSpec) (int, error) {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	s.mu.Lock()
	cur, running := s.cur, s.runCtx != nil && s.runCtx.Err() == nil
	s.mu.Unlock()
	if !running || cur == nil {
		return 0, errdefs.ErrFailedPrecondition.WithMessage("the service is not running; start it with `easlocal up`")
	}
	if spec.Service == nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage("an update needs a service.json")
	}
	if got, want := spec.Service.Metadata.Name, cur.svc.Metadata.Name; got != want {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"the service.json is for service %q, but the running service is %q; give the file of %s (or rename metadata.name)", got, want, want))
	}
	desired := max(spec.Service.Metadata.Instance, 0)
	if limit := cmp.Or(max(s.opts.MaxInstances, 0), service.DefaultMaxInstances); desired > limit {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("metadata.instance is %d: at most %d run on one machine; start the service with --max-instances N to raise the limit", desired, limit))
	}
	limits, err := ResolveRollLimits(spec.MaxSurge, spec.MaxUnavailable, desired)
	if err != nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage(err.Error() + "; fix metadata.rolling_strategy")
	}
	rev, err := s.newRevision(ctx, cur.num+1, spec.Service, spec.Termination, spec.CrashBlock)
	if err != nil {
		return 0, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return 0, errdefs.ErrFailedPrecondition.WithMessage("the service is stopping")
	}
	if u := s.update; u != nil && u.status.Phase != UpdateComplete {
		// The failed new instances of the unfinished update go first.
		for _, in := range s.instances {
			if in.rev == s.cur && !in.stopping && (in.held.Load() || !in.isReady()) {
				s.stopLocked(in, fmt.Sprintf("failed in the unfinished update to revision %d", s.cur.num))
			}
		}
	}
	s.cur = rev
	old := s.desired
	s.desired = desired
	now := time.Now()
	s.update = &update{spec: spec, status: UpdateStatus{
		Revision: rev.num, Phase: UpdateProgressing, Started: now, Limits: limits, Desired: desired,
	}}
	msg := fmt.Sprintf("Rolling update to revision %d started: %d instances (was %d), max surge %d, max unavailable %d",
		rev.num, desired, old, limits.MaxSurge, limits.MaxUnavailable)
	if spec.Timeout > 0 {
		msg += fmt.Sprintf(", a new instance must be ready within %s", spec.Timeout)
	}
	s.event(events.Ref{}, events.Normal, events.RollingUpdate, msg)
	s.notifyLocked()
	s.pokeLocked()
	return rev.num, nil
}

// Restart rolls every instance to a new revision of the current spec
// (EAS restarts a service by a rolling update). While an update is paused
// it is refused: the current spec is the one that failed.
func (s *Scheduler) Restart(ctx context.Context, timeout time.Duration) (int, error) {
	s.mu.Lock()
	cur := s.cur
	var surge, unavail string
	if s.update != nil {
		surge, unavail = s.update.spec.MaxSurge, s.update.spec.MaxUnavailable
	} else {
		surge, unavail = s.opts.MaxSurge, s.opts.MaxUnavailable
	}
	desired := s.desired
	paused := s.update != nil && s.update.status.Phase == UpdatePaused
	s.mu.Unlock()
	if paused {
		// Its revision is the one that failed: restarting would roll to it.
		return 0, errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf(
			"the update to revision %d is paused (see `easlocal ps`); run `easlocal update` with a fixed service.json instead of a restart", cur.num))
	}
	if cur == nil {
		return 0, errdefs.ErrFailedPrecondition.WithMessage("the service is not running; start it with `easlocal up`")
	}
	svc := *cur.svc
	svc.Metadata.Instance = desired
	return s.Update(ctx, UpdateSpec{Service: &svc, Termination: cur.term, CrashBlock: cur.crashBlock,
		MaxSurge: surge, MaxUnavailable: unavail, Timeout: timeout})
}

// UpdateStatus returns the last rolling update's state; ok is false when
// there has been none.
func (s *Scheduler) UpdateStatus() (st UpdateStatus, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.update == nil {
		return UpdateStatus{}, false
	}
	return s.update.status, true
}

// stopLocked asks an instance to terminate (its goroutine does the rest).
func (s *Scheduler) stopLocked(in *instance, why string) {
	in.stopping = true
	in.stopReason = why
	in.cancel()
}

// freeOrdinalLocked is the lowest ordinal no live instance has.
func (s *Scheduler) freeOrdinalLocked() int {
	used := map[int]bool{}
	for _, in := range s.instances {
		used[in.ordinal] = true
	}
	for i := 0; ; i++ {
		if !used[i] {
			return i
		}
	}
}

// startLocked creates an instance of the current revision.
func (s *Scheduler) startLocked() *instance {
	i := s.freeOrdinalLocked()
	name := s.cur.svc.Metadata.Name + "-" + strconv.Itoa(i)
	ctx, cancel := context.WithCancel(s.runCtx)
	in := newInstance(s, name, i, s.cur, cancel)
	s.instances[name] = in
	s.wg.Add(1)
	go in.run(ctx)
	return in
}

// reconcile brings the instances towards the desired count of the
// current revision by the Roll decision, and watches the new instances of
// a rolling update. It returns when the next timeout check is due (zero:
// none).
func (s *Scheduler) reconcile() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return time.Time{}
	}
	var old, cur []*instance
	var st RollState
	st.Desired = s.desired
	for _, in := range s.instances {
		if in.stopping {
			continue
		}
		if in.rev == s.cur {
			cur = append(cur, in)
			st.New++
			if in.isReady() {
				st.NewReady++
			}
		} else {
			old = append(old, in)
			st.Old++
			if in.isReady() {
				st.OldReady++
			}
		}
	}
	u := s.update
	var due time.Time
	if u != nil && u.status.Phase == UpdateProgressing {
		due = s.checkNewLocked(u, cur)
	}
	st.Paused = u != nil && u.status.Phase == UpdatePaused
	limits := RollLimits{MaxSurge: 1}
	if u != nil {
		if l, err := ResolveRollLimits(u.spec.MaxSurge, u.spec.MaxUnavailable, s.desired); err == nil {
			limits = l
		}
	}
	step := Roll(st, limits)

	// Not ready first, then the highest ordinals.
	byStopOrder := func(list []*instance) {
		sort.Slice(list, func(i, j int) bool {
			ri, rj := list[i].isReady(), list[j].isReady()
			if ri != rj {
				return !ri
			}
			return list[i].ordinal > list[j].ordinal
		})
	}
	var did []string
	byStopOrder(old)
	for _, in := range old[:step.StopOld] {
		s.stopLocked(in, fmt.Sprintf("replaced by revision %d", s.cur.num))
		did = append(did, "stopping "+in.name+" (revision "+strconv.Itoa(in.rev.num)+")")
	}
	byStopOrder(cur)
	for _, in := range cur[:step.StopNew] {
		s.stopLocked(in, "scale-in")
		s.event(events.Ref{Instance: in.name}, events.Normal, events.Scaled, "Scaled down: stopping "+in.name)
	}
	for range step.StartNew {
		in := s.startLocked()
		if u != nil && u.status.Phase == UpdateProgressing {
			did = append(did, "starting "+in.name+" (revision "+strconv.Itoa(s.cur.num)+")")
		}
	}
	if u != nil && u.status.Phase == UpdateProgressing {
		u.status.Desired, u.status.Old, u.status.New, u.status.NewReady = st.Desired, st.Old-step.StopOld, st.New+step.StartNew, st.NewReady
		if len(did) > 0 {
			s.event(events.Ref{}, events.Normal, events.RollingUpdate, fmt.Sprintf("Revision %d: %s; now %d old, %d new (%d ready) of %d",
				s.cur.num, strings.Join(did, ", "), u.status.Old, u.status.New, u.status.NewReady, st.Desired))
		}
		if step.Done {
			u.status.Phase = UpdateComplete
			u.status.Finished = time.Now()
			u.status.Message = fmt.Sprintf("every instance runs revision %d and is ready (%s)", s.cur.num, u.status.Finished.Sub(u.status.Started).Round(time.Millisecond))
			s.event(events.Ref{}, events.Normal, events.UpdateComplete, "Rolling update complete: "+u.status.Message)
		}
	}
	s.notifyLocked()
	return due
}

// checkNewLocked pauses the update when a new instance failed (a
// container ended with a failure or is being killed for a probe) or was
// not ready within the timeout. It returns the next timeout to check.
func (s *Scheduler) checkNewLocked(u *update, cur []*instance) time.Time {
	var due time.Time
	now := time.Now()
	for _, in := range cur {
		snap := in.snap.Load()
		if snap == nil || snap.Ready {
			continue
		}
		why := ""
		for _, c := range snap.Containers {
			switch {
			case c.State == ContainerTerminating:
				why = fmt.Sprintf("container %s failed a probe and is being killed", c.Name)
			case c.LastExit != nil && c.LastExit.Failed:
				why = fmt.Sprintf("container %s %s", c.Name, c.LastExit.Message)
			}
			if why != "" {
				break
			}
		}
		if why == "" && u.spec.Timeout > 0 {
			deadline := in.created.Add(u.spec.Timeout)
			if !now.Before(deadline) {
				why = fmt.Sprintf("not ready within %s", u.spec.Timeout)
			} else if due.IsZero() || deadline.Before(due) {
				due = deadline
			}
		}
		if why == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "new instance %s of revision %d %s; the old instances keep serving and %s gets no traffic. `easlocal update` with a fixed service.json removes it first.",
			in.name, in.rev.num, why, in.name)
		describeInstance(&b, *snap)
		u.status.Phase = UpdatePaused
		u.status.Finished = now
		u.status.Message = b.String()
		in.hold()
		s.event(events.Ref{Instance: in.name}, events.Warning, events.UpdatePaused, fmt.Sprintf(
			"Rolling update to revision %d paused: new instance %s %s; old instances keep serving", in.rev.num, in.name, why))
		return time.Time{}
	}
	return due
}
