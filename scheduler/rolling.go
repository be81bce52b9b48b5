package scheduler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is the pure rolling-update decision, in the style of Decide:
// given the counts of old and new instances and the strategy, what to do
// now. No clock, no I/O; the Run loop acts on it.

// RollLimits is rolling_strategy resolved to instance counts for the
// desired count (ResolveRollLimits).
type RollLimits struct {
	// MaxSurge is how many instances above the desired count may exist.
	MaxSurge int
	// MaxUnavailable is how many below the desired count may be not ready.
	MaxUnavailable int
}

// ResolveRollLimits reads rolling_strategy.max_surge and max_unavailable
// ("" = EAS's default; an integer; or a percentage like "25%") for
// desired instances: the surge defaults to 2% with a minimum of 1 and
// rounds up, max_unavailable defaults to 0 and rounds down (as Kubernetes
// rounds them). Both 0 would never progress, so the surge is 1 then.
func ResolveRollLimits(maxSurge, maxUnavailable string, desired int) (RollLimits, error) {
	var l RollLimits
	var err error
	if maxSurge == "" {
		l.MaxSurge = max(1, int(math.Ceil(0.02*float64(desired))))
	} else if l.MaxSurge, err = intOrPercent(maxSurge, desired, true); err != nil {
		return l, fmt.Errorf("rolling_strategy.max_surge: %w", err)
	}
	if maxUnavailable != "" {
		if l.MaxUnavailable, err = intOrPercent(maxUnavailable, desired, false); err != nil {
			return l, fmt.Errorf("rolling_strategy.max_unavailable: %w", err)
		}
	}
	if l.MaxSurge == 0 && l.MaxUnavailable == 0 {
		l.MaxSurge = 1
	}
	return l, nil
}

func intOrPercent(s string, of int, roundUp bool) (int, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 100 {
			return 0, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
		}
		v := float64(n) * float64(of) / 100
		if roundUp {
			return int(math.Ceil(v)), nil
		}
		return int(math.Floor(v)), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is neither a number of instances (0 or more) nor a percentage like \"25%%\"", s)
	}
	return n, nil
}

// RollState is what the decision looks at. Instances being terminated are
// not counted (as a Kubernetes Deployment does not count them).
type RollState struct {
	Desired int
	// Old counts the instances of earlier revisions, OldReady the ready ones.
	Old, OldReady int
	// New counts the instances of the current revision, NewReady the ready ones.
	New, NewReady int
	// Paused: a new instance failed; nothing more happens until the next
	// update.
	Paused bool
}

// RollStep is what to do now.
type RollStep struct {
	// StartNew new instances of the current revision.
	StartNew int
	// StopOld old instances, the not ready ones first.
	StopOld int
	// StopNew new instances (more than desired: a scale-in).
	StopNew int
	// Done: every instance is new and ready; the update is complete.
	Done bool
}

// Roll decides the next step. It keeps Old+New <= Desired+MaxSurge and
// never stops a ready instance that would take the ready count below
// Desired-MaxUnavailable; not ready old instances may go at any time.
// Without old instances it is plain scaling.
func Roll(st RollState, l RollLimits) RollStep {
	if st.Old == 0 {
		return RollStep{
			StartNew: max(0, st.Desired-st.New),
			StopNew:  max(0, st.New-st.Desired),
			Done:     st.New == st.Desired && st.NewReady >= st.Desired,
		}
	}
	if st.Paused {
		return RollStep{}
	}
	var step RollStep
	room := st.Desired + l.MaxSurge - (st.Old + st.New)
	step.StartNew = max(0, min(st.Desired-st.New, room))
	minReady := max(0, st.Desired-l.MaxUnavailable)
	stoppableReady := max(0, st.OldReady+st.NewReady-minReady)
	step.StopOld = min(st.Old, (st.Old-st.OldReady)+min(st.OldReady, stoppableReady))
	return step
}
