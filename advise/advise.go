package advise

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/service"
)

// MinSamples is how many runs a probe needs before its latency is judged.
const MinSamples = 10

// Observed is what easlocal saw of one container of one instance.
type Observed struct {
	Instance string
	// Container is the index in containers[].
	Container int
	Probes    map[service.ProbeKind]Probe
}

// Probe is what one probe kind of the container showed: the prober's
// observation, used as it is.
type Probe = prober.KindObservation

// Rule names what an advice is about.
type Rule string

const (
	SlowStart     Rule = "slow-start"
	StartupBudget Rule = "startup-budget"
	Latency       Rule = "latency"
	NoReadiness   Rule = "no-readiness"
)

// Advice is one piece of advice about one container.
type Advice struct {
	Container string // c0, c1, ...
	// Instance whose numbers the advice quotes ("" for advice on the
	// configuration alone).
	Instance string
	Kind     service.ProbeKind // "" when not about one probe
	Rule     Rule
	// Risk: on EAS the container could be killed or get traffic it cannot
	// serve; false for advice on the configuration alone.
	Risk    bool
	Message string
}

// Advise returns the advice for s given what was observed, ordered by
// container, then rule (as the constants are listed), then probe kind.
func Advise(s *service.Service, observed []Observed) []Advice {
	var out []Advice
	for i := range s.Containers {
		spec := &s.Containers[i]
		name := "c" + strconv.Itoa(i)
		var obs []Observed
		for _, o := range observed {
			if o.Container == i {
				obs = append(obs, o)
			}
		}
		// Instances in a stable order, so the worst one is chosen the same way every time.
		slices.SortFunc(obs, func(a, b Observed) int {
			if a.Instance < b.Instance {
				return -1
			}
			if a.Instance > b.Instance {
				return 1
			}
			return 0
		})
		add := func(a *Advice) {
			if a != nil {
				a.Container = name
				out = append(out, *a)
			}
		}
		add(slowStart(spec, obs))
		add(startupBudget(spec, obs))
		for _, k := range service.ProbeKinds {
			add(latency(spec, k, obs))
		}
		if spec.HealthCheck == nil {
			add(&Advice{Rule: NoReadiness, Message: "no readiness check (health_check): EAS only checks that the port accepts connections and sends traffic as soon as it opens, before the app may be able to serve: add a health_check on a path that answers once it can"})
		}
	}
	return out
}

// slowStart: without a startup_check, liveness runs from the start, so a
// slow start races its failure budget.
func slowStart(spec *service.Container, obs []Observed) *Advice {
	lp := spec.LivenessCheck
	if lp == nil || spec.StartupCheck != nil {
		return nil
	}
	var worst *Observed
	var start time.Duration
	killed, killedOn := 0, ""
	for i := range obs {
		p := obs[i].Probes[service.Liveness]
		if p.KilledBeforeSuccess > killed {
			killed, killedOn = p.KilledBeforeSuccess, obs[i].Instance
		}
		if p.Succeeded && p.FailuresBeforeSuccess > 0 && p.FirstSuccess > start {
			worst, start = &obs[i], p.FirstSuccess
		}
	}
	if worst == nil && killed == 0 {
		return nil
	}
	period := time.Duration(lp.PeriodSeconds) * time.Second
	lo, hi := livenessDeadline(lp)
	check := fmt.Sprintf("liveness check (initial delay %d s, period %d s, failure threshold %d)", lp.InitialDelaySeconds, lp.PeriodSeconds, lp.FailureThreshold)
	if worst == nil {
		return &Advice{Instance: killedOn, Kind: service.Liveness, Rule: SlowStart, Risk: true, Message: fmt.Sprintf(
			"the %s killed the container %s before it ever passed (on %s): it kills a start slower than %s, here as on EAS; add a startup_check with period %d and a failure_threshold that covers the start (30 allows %s), then run easlocal advise again for the measured time",
			check, times(killed), killedOn, window(lo, hi), lp.PeriodSeconds, secs(30*period))}
	}
	p := worst.Probes[service.Liveness]
	need := int(math.Ceil(start.Seconds()/period.Seconds())) + 1
	msg := fmt.Sprintf("startup took %s (the liveness check failed %s before it first passed, on %s); on EAS your %s would kill it if the start took longer than %s: add a startup_check with period %d and failure_threshold ≥ %d",
		secs(start), times(p.FailuresBeforeSuccess), worst.Instance, check, window(lo, hi), lp.PeriodSeconds, need)
	if killed > 0 {
		msg += fmt.Sprintf(" (it already killed the container %s before it passed, on %s)", times(killed), killedOn)
	}
	return &Advice{Instance: worst.Instance, Kind: service.Liveness, Rule: SlowStart, Risk: true, Message: msg}
}

// livenessDeadline is when, after a container's start, the kubelet kills
// one that never passes: the F-th failure, the first run 0 to one period
// after the initial delay.
func livenessDeadline(p *service.Probe) (lo, hi time.Duration) {
	d := time.Duration(p.InitialDelaySeconds) * time.Second
	period := time.Duration(p.PeriodSeconds) * time.Second
	return d + time.Duration(p.FailureThreshold-1)*period, d + time.Duration(p.FailureThreshold)*period
}

// startupBudget: the startup_check allows failure_threshold failures;
// using two thirds of them leaves little room for a slower start on EAS.
func startupBudget(spec *service.Container, obs []Observed) *Advice {
	sp := spec.StartupCheck
	if sp == nil {
		return nil
	}
	period := time.Duration(sp.PeriodSeconds) * time.Second
	lo, hi := livenessDeadline(sp)
	check := fmt.Sprintf("startup_check (initial delay %d s, period %d s, failure threshold %d)", sp.InitialDelaySeconds, sp.PeriodSeconds, sp.FailureThreshold)
	var worst *Observed
	killed, killedOn := 0, ""
	for i := range obs {
		p := obs[i].Probes[service.Startup]
		if p.KilledBeforeSuccess > killed {
			killed, killedOn = p.KilledBeforeSuccess, obs[i].Instance
		}
		if p.Succeeded && 3*p.FailuresBeforeSuccess >= 2*sp.FailureThreshold &&
			(worst == nil || p.FirstSuccess > worst.Probes[service.Startup].FirstSuccess) {
			worst = &obs[i]
		}
	}
	if worst != nil {
		p := worst.Probes[service.Startup]
		need := int(math.Ceil(2 * p.FirstSuccess.Seconds() / period.Seconds()))
		return &Advice{Instance: worst.Instance, Kind: service.Startup, Rule: StartupBudget, Risk: true, Message: fmt.Sprintf(
			"startup took %s (on %s): the %s passed after %d of the %d failures it allows; on EAS, where pulls and loading are often slower, raise failure_threshold to ≥ %d",
			secs(p.FirstSuccess), worst.Instance, check, p.FailuresBeforeSuccess, sp.FailureThreshold, need)}
	}
	if killed > 0 {
		return &Advice{Instance: killedOn, Kind: service.Startup, Rule: StartupBudget, Risk: true, Message: fmt.Sprintf(
			"the %s killed the container %s before it ever passed (on %s): it allows a start of %s, here as on EAS; raise failure_threshold (%d allows %s)",
			check, times(killed), killedOn, window(lo, hi), 4*sp.FailureThreshold, secs(time.Duration(4*sp.FailureThreshold)*period))}
	}
	return nil
}

// latency: a probe whose runs come close to its timeout fails on a
// slower machine or a busier moment.
func latency(spec *service.Container, k service.ProbeKind, obs []Observed) *Advice {
	sp := spec.Probe(k)
	if sp == nil {
		return nil
	}
	timeout := time.Duration(sp.TimeoutSeconds) * time.Second
	var worst *Observed
	for i := range obs {
		p := obs[i].Probes[k]
		slow := p.Latency.Samples >= MinSamples && 2*p.Latency.P99 >= timeout
		if !slow && p.TimedOut == 0 {
			continue
		}
		if worst == nil || p.Latency.P99 > worst.Probes[k].Latency.P99 || (p.Latency.P99 == worst.Probes[k].Latency.P99 && p.TimedOut > worst.Probes[k].TimedOut) {
			worst = &obs[i]
		}
	}
	if worst == nil {
		return nil
	}
	p := worst.Probes[k]
	need := max(int(math.Ceil(2*p.Latency.P99.Seconds())), 1)
	if p.TimedOut > 0 {
		need = max(need, sp.TimeoutSeconds+1)
	}
	msg := fmt.Sprintf("%s probe p99 latency %s with timeout %d s", k, secs(p.Latency.P99), sp.TimeoutSeconds)
	if p.TimedOut > 0 {
		msg += fmt.Sprintf(" (%d of %d runs timed out)", p.TimedOut, p.Runs)
	}
	msg += fmt.Sprintf(", on %s: raise timeout_seconds of %s to ≥ %d", worst.Instance, k.Field(), need)
	return &Advice{Instance: worst.Instance, Kind: k, Rule: Latency, Risk: true, Message: msg}
}

// secs writes a duration in seconds: "41 s" from 10 s on, "4.1 s" or
// "0.8 s" below.
func secs(d time.Duration) string {
	if d >= 10*time.Second {
		return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + " s"
	}
	return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + " s"
}

func window(lo, hi time.Duration) string {
	if lo == hi {
		return secs(lo)
	}
	return strings.TrimSuffix(secs(lo), " s") + " to " + secs(hi)
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}
