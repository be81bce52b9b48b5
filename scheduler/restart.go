package scheduler

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// This file is the pure restart decision (style #3): restart policy and
// crash-loop back-off answer "what now, after how long, and why" from their
// inputs. Nothing here sleeps, reads the clock or touches a container; the
// instance goroutine does the waiting.

// RestartPolicy says which container ends lead to a new container.
type RestartPolicy int

const (
	// RestartAlways restarts after any end, exit code 0 included (the
	// default, as in an EAS deployment).
	RestartAlways RestartPolicy = iota
	// RestartOnFailure restarts after a non-zero exit, a signal, OOM, a
	// failed start, and liveness or startup probe failures.
	RestartOnFailure
	// RestartNever leaves every ended container stopped.
	RestartNever
)

// String returns the flag spelling: always, on-failure or never.
func (p RestartPolicy) String() string {
	return enumName(p, "RestartPolicy", restartPolicyNames)
}

var restartPolicyNames = []string{RestartAlways: "always", RestartOnFailure: "on-failure", RestartNever: "never"}

// ParseRestartPolicy reads "always", "on-failure" or "never" (case and
// the Kubernetes spellings Always/OnFailure/Never accepted).
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "always", "":
		return RestartAlways, nil
	case "on-failure", "onfailure", "on_failure":
		return RestartOnFailure, nil
	case "never":
		return RestartNever, nil
	}
	return 0, fmt.Errorf("restart policy %q is not known; use always, on-failure or never", s)
}

// ExitKind says why a container ended.
type ExitKind int

const (
	// Exited: the process ended on its own (or by a signal someone else
	// sent, e.g. `easlocal kill`).
	Exited ExitKind = iota
	// LivenessFailed: the liveness probe published failure and the
	// scheduler stopped the container.
	LivenessFailed
	// StartupFailed: the startup probe published failure and the
	// scheduler stopped the container.
	StartupFailed
	// StartError: the container could not be started at all.
	StartError
)

func (k ExitKind) String() string {
	return enumName(k, "ExitKind", exitKindNames)
}

var exitKindNames = []string{Exited: "exited", LivenessFailed: "liveness-failed", StartupFailed: "startup-failed", StartError: "start-error"}

// ExitReason is how one container ended.
type ExitReason struct {
	Kind      ExitKind
	Code      int
	Signal    syscall.Signal
	OOMKilled bool
}

// Failed reports whether the end counts as a failure for OnFailure.
func (e ExitReason) Failed() bool {
	return e.Kind != Exited || e.Code != 0 || e.Signal != 0 || e.OOMKilled
}

// Reason is the Kubernetes-style one-word reason: OOMKilled, Completed,
// Error, Unhealthy (probe kill) or StartError.
func (e ExitReason) Reason() string {
	switch {
	case e.OOMKilled:
		return "OOMKilled"
	case e.Kind == LivenessFailed || e.Kind == StartupFailed:
		return "Unhealthy"
	case e.Kind == StartError:
		return "StartError"
	case e.Code == 0 && e.Signal == 0:
		return "Completed"
	}
	return "Error"
}

// String is a short human sentence fragment, e.g. "exited with code 1".
func (e ExitReason) String() string {
	var s string
	switch e.Kind {
	case LivenessFailed:
		s = "failed liveness probe"
	case StartupFailed:
		s = "failed startup probe"
	case StartError:
		return "failed to start"
	default:
		if e.Signal != 0 {
			s = fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
		} else {
			s = fmt.Sprintf("exited with code %d", e.Code)
		}
	}
	if e.OOMKilled {
		s += " (OOMKilled: out of memory)"
	}
	return s
}

// Default back-off numbers: the kubelet's (pkg/kubelet: backOffPeriod 10 s,
// MaxContainerBackOff 300 s; client-go flowcontrol resets an entry that was
// quiet for 2×max).
const (
	DefaultBackoffInitial = 10 * time.Second
	DefaultBackoffMax     = 300 * time.Second
)

// Backoff holds the crash-loop back-off numbers. Zero fields take the
// defaults.
//
// The sequence produced: the n-th restart of a streak waits
//
//	n = 1, 2:  0
//	n >= 3:    min(Initial × 2^(n-3), Max)
//
// so with the defaults 0, 0, 10s, 20s, 40s, 80s, 160s, 300s, 300s, ...
// This is the sequence of ../shared/reference/kubelet-probes.md (worked
// timeline 7). How it relates to the kubelet code (kuberuntime doBackOff
// + client-go flowcontrol.Backoff, NewBackOff(10s, 300s), no jitter): the
// kubelet looks up the back-off window only when an exited container of
// the same name exists and measures it from that container's FinishedAt.
// After liveness kills that gives two immediate restarts, then waits of
// 10s, 20s, ... counted from the previous kill (so up to one container
// lifetime shorter than here). For a container that exits on its own the
// exited container is already there at the first restart, so the kubelet
// waits 0, 10s, 20s, ... easlocal uses one sequence for every kind of
// end, counted from the moment the decision is taken (right after the
// container ended), which is what users read in the docs and the
// reference.
//
// A streak resets when the container that just ended had run longer than
// ResetAfter (default 2×Max, i.e. 10 minutes with the defaults, as the
// kubelet's "quiet for twice the max" rule).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Initial > b.Max {
		b.Initial = b.Max
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = 2 * b.Max
	}
	return b
}

// Delay returns the wait before the n-th restart of a streak (n >= 1).
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	if n <= 2 {
		return 0
	}
	d := b.Initial
	for i := 3; i < n; i++ {
		d *= 2
		if d >= b.Max {
			return b.Max
		}
	}
	return min(d, b.Max)
}

// History is what the decision remembers about one container slot
// (across its restarts). The caller stores Decision.Next and sets Started
// when it starts a new container.
type History struct {
	// Streak counts restarts since the last reset.
	Streak int
	// Started is when the container that just ended was started.
	Started time.Time
}

// Action is what to do with an ended container.
type Action int

const (
	// Stay leaves the container stopped.
	Stay Action = iota
	// Restart starts a new container in the same pod after Delay.
	Restart
)

// Decision is the answer of Decide.
type Decision struct {
	Action Action
	// Delay before the new container is started (Restart only).
	Delay time.Duration
	// Reason explains the decision in a sentence fragment.
	Reason string
	// Next is the history to keep once the decision is acted upon.
	Next History
}

// Decide applies policy and back-off to one container end observed at
// now. It is pure: same inputs, same answer.
func Decide(policy RestartPolicy, b Backoff, exit ExitReason, h History, now time.Time) Decision {
	b = b.withDefaults()
	streak := h.Streak
	if !h.Started.IsZero() && now.Sub(h.Started) > b.ResetAfter {
		streak = 0 // it ran long enough: forget earlier crashes
	}
	next := History{Streak: streak, Started: h.Started}

	var restart bool
	switch policy {
	case RestartAlways:
		restart = true
	case RestartOnFailure:
		restart = exit.Failed()
	}
	if !restart {
		why := fmt.Sprintf("%s; restart policy %s keeps it stopped", exit, policy)
		return Decision{Action: Stay, Reason: why, Next: next}
	}
	next.Streak = streak + 1
	d := b.Delay(next.Streak)
	why := fmt.Sprintf("%s; restarting at once (restart policy %s)", exit, policy)
	if d > 0 {
		why = fmt.Sprintf("%s; back-off %s restarting failed container", exit, d)
	}
	return Decision{Action: Restart, Delay: d, Reason: why, Next: next}
}

// Crashed reports whether the container ended on its own with a failure
// (a non-zero code, a signal, OOM): what runtime.enable_crash_block
// blocks. Probe kills and start errors are not crashes.
func (e ExitReason) Crashed() bool {
	return e.Kind == Exited && e.Failed()
}

// BlockCrash applies runtime.enable_crash_block to a decision: with
// crashBlock set a crash is not restarted whatever the policy says, so
// the container stays for inspection. Pure, like Decide.
func BlockCrash(d Decision, crashBlock bool, exit ExitReason) Decision {
	if !crashBlock || !exit.Crashed() || d.Action == Stay {
		return d
	}
	return Decision{Action: Stay, Reason: fmt.Sprintf("%s; not restarted (runtime.enable_crash_block)", exit), Next: d.Next}
}

// enumName is the String of an int enum: names[v], or typ(v) for a
// value without a name.
func enumName[T ~int](v T, typ string, names []string) string {
	if v >= 0 && int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, int(v))
}
