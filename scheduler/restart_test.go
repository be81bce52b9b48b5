package scheduler

import (
	"syscall"
	"testing"
	"time"
)

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		err  bool
	}{
		{"always", RestartAlways, false},
		{"Always", RestartAlways, false},
		{"", RestartAlways, false},
		{"on-failure", RestartOnFailure, false},
		{"OnFailure", RestartOnFailure, false},
		{"never", RestartNever, false},
		{"sometimes", 0, true},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseRestartPolicy(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.err)
		}
		if !tc.err {
			if back, _ := ParseRestartPolicy(got.String()); back != got {
				t.Errorf("%v does not round-trip through String", got)
			}
		}
	}
}

// The kubelet's numbers: 0, 0, 10, 20, 40, ... capped at 300 s.
func TestBackoffDelaySequence(t *testing.T) {
	s := time.Second
	want := []time.Duration{0, 0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s}
	var b Backoff
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("default Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	// Adjusted for demos, and no overflow on huge streaks.
	demo := Backoff{Initial: time.Second, Max: 5 * time.Second}
	wantDemo := []time.Duration{0, 0, s, 2 * s, 4 * s, 5 * s, 5 * s}
	for i, w := range wantDemo {
		if got := demo.Delay(i + 1); got != w {
			t.Errorf("demo Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := demo.Delay(10000); got != 5*s {
		t.Errorf("Delay(10000) = %v, want the max", got)
	}
	// Initial above Max is capped.
	if got := (Backoff{Initial: time.Minute, Max: time.Second}).Delay(3); got != time.Second {
		t.Errorf("Initial > Max: Delay(3) = %v, want 1s", got)
	}
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := ExitReason{Kind: Exited, Code: 0}
	fail := ExitReason{Kind: Exited, Code: 1}
	sig := ExitReason{Kind: Exited, Code: 137, Signal: syscall.SIGKILL}
	oom := ExitReason{Kind: Exited, Code: 137, OOMKilled: true}
	live := ExitReason{Kind: LivenessFailed, Code: 143, Signal: syscall.SIGTERM}
	startup := ExitReason{Kind: StartupFailed}
	startErr := ExitReason{Kind: StartError}
	fresh := History{Started: t0}

	for _, tc := range []struct {
		name   string
		policy RestartPolicy
		exit   ExitReason
		h      History
		now    time.Time
		action Action
		delay  time.Duration
		streak int
	}{
		{"always restarts exit 0", RestartAlways, ok, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"always restarts exit 1", RestartAlways, fail, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure keeps exit 0 stopped", RestartOnFailure, ok, fresh, t0.Add(time.Second), Stay, 0, 0},
		{"on-failure restarts exit 1", RestartOnFailure, fail, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure restarts a signal", RestartOnFailure, sig, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure restarts OOM", RestartOnFailure, oom, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure restarts liveness kill", RestartOnFailure, live, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure restarts startup kill", RestartOnFailure, startup, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"on-failure restarts start error", RestartOnFailure, startErr, fresh, t0.Add(time.Second), Restart, 0, 1},
		{"never keeps exit 1 stopped", RestartNever, fail, fresh, t0.Add(time.Second), Stay, 0, 0},
		{"never keeps liveness kill stopped", RestartNever, live, fresh, t0.Add(time.Second), Stay, 0, 0},
		{"second restart is immediate", RestartAlways, fail, History{Streak: 1, Started: t0}, t0.Add(time.Second), Restart, 0, 2},
		{"third restart waits 10s", RestartAlways, fail, History{Streak: 2, Started: t0}, t0.Add(time.Second), Restart, 10 * time.Second, 3},
		{"fourth waits 20s", RestartAlways, live, History{Streak: 3, Started: t0}, t0.Add(time.Minute), Restart, 20 * time.Second, 4},
		{"capped at 300s", RestartAlways, fail, History{Streak: 20, Started: t0}, t0.Add(time.Minute), Restart, 300 * time.Second, 21},
		{"ran exactly 10 min: no reset", RestartAlways, fail, History{Streak: 5, Started: t0}, t0.Add(10 * time.Minute), Restart, 80 * time.Second, 6},
		{"ran over 10 min: reset", RestartAlways, fail, History{Streak: 5, Started: t0}, t0.Add(10*time.Minute + time.Second), Restart, 0, 1},
		{"stay after a long run resets the streak", RestartNever, fail, History{Streak: 5, Started: t0}, t0.Add(time.Hour), Stay, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.policy, Backoff{}, tc.exit, tc.h, tc.now)
			if d.Action != tc.action || d.Delay != tc.delay || d.Next.Streak != tc.streak {
				t.Errorf("Decide = %v after %v (streak %d), want %v after %v (streak %d); reason %q",
					d.Action, d.Delay, d.Next.Streak, tc.action, tc.delay, tc.streak, d.Reason)
			}
			if d.Reason == "" {
				t.Error("empty reason")
			}
		})
	}
}

// With a shortened max the reset window follows it (2×max), as the kubelet.
func TestDecideResetFollowsMax(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Backoff{Initial: time.Second, Max: 5 * time.Second}
	h := History{Streak: 4, Started: t0}
	if d := Decide(RestartAlways, b, ExitReason{Code: 1}, h, t0.Add(9*time.Second)); d.Delay != 4*time.Second {
		t.Errorf("ran 9s: delay %v, want 4s", d.Delay)
	}
	if d := Decide(RestartAlways, b, ExitReason{Code: 1}, h, t0.Add(11*time.Second)); d.Delay != 0 || d.Next.Streak != 1 {
		t.Errorf("ran 11s > 2×max: delay %v streak %d, want 0 and 1", d.Delay, d.Next.Streak)
	}
	b.ResetAfter = time.Hour
	if d := Decide(RestartAlways, b, ExitReason{Code: 1}, h, t0.Add(11*time.Second)); d.Next.Streak != 5 {
		t.Errorf("explicit ResetAfter 1h: streak %d, want 5", d.Next.Streak)
	}
}

func TestExitReasonWords(t *testing.T) {
	for _, tc := range []struct {
		e      ExitReason
		reason string
	}{
		{ExitReason{Code: 0}, "Completed"},
		{ExitReason{Code: 2}, "Error"},
		{ExitReason{Code: 137, Signal: syscall.SIGKILL}, "Error"},
		{ExitReason{Code: 137, OOMKilled: true}, "OOMKilled"},
		{ExitReason{Kind: LivenessFailed}, "Unhealthy"},
		{ExitReason{Kind: StartError}, "StartError"},
	} {
		if got := tc.e.Reason(); got != tc.reason {
			t.Errorf("%+v.Reason() = %q, want %q", tc.e, got, tc.reason)
		}
	}
}
