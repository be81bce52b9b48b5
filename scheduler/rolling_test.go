package scheduler

import (
	"fmt"
	"testing"
)

func TestResolveRollLimits(t *testing.T) {
	for _, tc := range []struct {
		surge, unavail string
		desired        int
		want           RollLimits
		err            bool
	}{
		{"", "", 3, RollLimits{1, 0}, false},       // 2% of 3 rounds up to 1
		{"", "", 100, RollLimits{2, 0}, false},     // 2%
		{"", "", 101, RollLimits{3, 0}, false},     // 2.02 rounds up
		{"", "", 0, RollLimits{1, 0}, false},       // minimum 1
		{"2", "1", 3, RollLimits{2, 1}, false},     // integers
		{"50%", "50%", 3, RollLimits{2, 1}, false}, // surge up, unavailable down
		{"0", "1", 3, RollLimits{0, 1}, false},
		{"0", "0", 3, RollLimits{1, 0}, false}, // would never progress
		{"0", "10%", 3, RollLimits{1, 0}, false},
		{"-1", "", 3, RollLimits{}, true},
		{"", "abc", 3, RollLimits{}, true},
		{"150%", "", 3, RollLimits{}, true},
	} {
		got, err := ResolveRollLimits(tc.surge, tc.unavail, tc.desired)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ResolveRollLimits(%q, %q, %d) = %+v, %v; want %+v err=%t", tc.surge, tc.unavail, tc.desired, got, err, tc.want, tc.err)
		}
	}
}

// The decision table: given the counts and the limits, what now.
func TestRoll(t *testing.T) {
	l10 := RollLimits{MaxSurge: 1, MaxUnavailable: 0}
	l21 := RollLimits{MaxSurge: 2, MaxUnavailable: 1}
	l01 := RollLimits{MaxSurge: 0, MaxUnavailable: 1}
	for _, tc := range []struct {
		name string
		st   RollState
		l    RollLimits
		want RollStep
	}{
		{"start: surge 1", RollState{Desired: 3, Old: 3, OldReady: 3}, l10, RollStep{StartNew: 1}},
		{"new not ready yet: wait", RollState{Desired: 3, Old: 3, OldReady: 3, New: 1}, l10, RollStep{}},
		{"new ready: stop one old", RollState{Desired: 3, Old: 3, OldReady: 3, New: 1, NewReady: 1}, l10, RollStep{StopOld: 1}},
		{"old stopped: next new", RollState{Desired: 3, Old: 2, OldReady: 2, New: 1, NewReady: 1}, l10, RollStep{StartNew: 1}},
		{"last old", RollState{Desired: 3, Old: 1, OldReady: 1, New: 3, NewReady: 3}, l10, RollStep{StopOld: 1}},
		{"done", RollState{Desired: 3, New: 3, NewReady: 3}, l10, RollStep{Done: true}},
		{"all new, one not ready: not done", RollState{Desired: 3, New: 3, NewReady: 2}, l10, RollStep{}},
		{"unready old go at once", RollState{Desired: 3, Old: 3, OldReady: 1, New: 1}, l10, RollStep{StopOld: 2}},
		{"surge 2 unavailable 1: start 2, stop 1", RollState{Desired: 3, Old: 3, OldReady: 3}, l21, RollStep{StartNew: 2, StopOld: 1}},
		{"surge 0 unavailable 1: stop first", RollState{Desired: 3, Old: 3, OldReady: 3}, l01, RollStep{StopOld: 1}},
		{"surge 0 unavailable 1: then start", RollState{Desired: 3, Old: 2, OldReady: 2}, l01, RollStep{StartNew: 1}},
		{"paused: nothing", RollState{Desired: 3, Old: 3, OldReady: 3, New: 1, Paused: true}, l10, RollStep{}},
		{"scale-in during update", RollState{Desired: 1, Old: 3, OldReady: 3}, l10, RollStep{StopOld: 2}},
		{"no old: plain scale-up", RollState{Desired: 3, New: 1, NewReady: 1}, l10, RollStep{StartNew: 2}},
		{"no old: plain scale-in", RollState{Desired: 1, New: 3, NewReady: 3}, l10, RollStep{StopNew: 2}},
		{"zero desired", RollState{}, l10, RollStep{Done: true}},
	} {
		if got := Roll(tc.st, tc.l); got != tc.want {
			t.Errorf("%s: Roll(%+v, %+v) = %+v, want %+v", tc.name, tc.st, tc.l, got, tc.want)
		}
	}
}

// Played to the end, for many sizes and limits, the steps finish the
// update and hold the bounds after every step: at most desired+surge
// instances, at least desired-unavailable ready.
func TestRollPlayedOut(t *testing.T) {
	for desired := 1; desired <= 7; desired++ {
		for surge := 0; surge <= 3; surge++ {
			for unavail := 0; unavail <= 2; unavail++ {
				l, err := ResolveRollLimits(fmt.Sprint(surge), fmt.Sprint(unavail), desired)
				if err != nil {
					t.Fatal(err)
				}
				st := RollState{Desired: desired, Old: desired, OldReady: desired}
				pendingNew := 0 // started, not ready yet
				for i := 0; ; i++ {
					if i > 100 {
						t.Fatalf("desired %d %+v: no end; at %+v", desired, l, st)
					}
					step := Roll(st, l)
					if step.Done {
						break
					}
					stopUnready := min(step.StopOld, st.Old-st.OldReady)
					st.Old -= step.StopOld
					st.OldReady -= step.StopOld - stopUnready
					st.New += step.StartNew
					pendingNew += step.StartNew
					if st.Old+st.New > desired+l.MaxSurge {
						t.Fatalf("desired %d %+v: %d instances after %+v", desired, l, st.Old+st.New, step)
					}
					if ready := st.OldReady + st.NewReady; ready < min(desired-l.MaxUnavailable, desired) {
						t.Fatalf("desired %d %+v: %d ready after %+v", desired, l, ready, step)
					}
					if step == (RollStep{}) { // waiting: the started ones become ready
						st.NewReady += pendingNew
						pendingNew = 0
					}
				}
				if st.New != desired || st.Old != 0 {
					t.Errorf("desired %d %+v: ended with %+v", desired, l, st)
				}
			}
		}
	}
}
