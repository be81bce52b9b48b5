package scenario

import (
	"fmt"
	"time"

	"github.com/easlocal/easlocal/admin"
)

// Scenario is one scenario as written, validated: a service, the load to
// drive through it, the faults to inject and what must hold.
type Scenario struct {
	Name string
	File string // the scenario file it came from
	Line int    // where it starts in File
	// Service is the service.json, resolved against File's directory.
	Service string
	// Instances overrides metadata.instance when set.
	Instances *int
	// Count is the number of instances the service will run (Instances
	// or metadata.instance), for checking instance indexes.
	Count  int
	Up     Up
	Load   Load
	Faults []Fault
	Expect Expect
}

// Up holds the flags of `easlocal up` a scenario sets; nil means the
// command line's value.
type Up struct {
	RestartPolicy  *string
	BackoffInitial *time.Duration
	BackoffMax     *time.Duration
	StopGrace      *time.Duration
	WaitTimeout    *time.Duration
	NoRetry        *bool
	Token          *string
}

// Load modes.
const (
	Gateway = "gateway" // through the gateway, /api/predict/<service>
	Direct  = "direct"  // to the ready endpoints themselves, round robin
)

// Load is the traffic a scenario drives.
type Load struct {
	Rate     float64 // open loop, requests per second (0: closed loop)
	Clients  int     // closed loop (default 4 when Rate is 0)
	Method   string
	Path     string // below the service's prefix, e.g. "/" or "/predict"
	Headers  [][2]string
	Body     string
	Duration time.Duration
	Timeout  time.Duration // per request (default 10s)
	Mode     string        // Gateway or Direct
}

// Fault kinds: the control API's (admin.Fault.Kind), which a scenario
// passes on unchanged.
const (
	Kill      = admin.FaultKill
	Pause     = admin.FaultPause
	Exit      = admin.FaultExit
	Blackhole = admin.FaultBlackhole
	Reject    = admin.FaultReject
	Loss      = admin.FaultLoss
	Bandwidth = admin.FaultBandwidth
	HTTPDelay = admin.FaultHTTPDelay
	HTTPAbort = admin.FaultHTTPAbort
)

// Kinds lists the fault kinds in the order the documentation gives them.
var Kinds = []string{Kill, Pause, Exit, Blackhole, Reject, Loss, Bandwidth, HTTPDelay, HTTPAbort}

// Fault is one fault on the schedule.
type Fault struct {
	Line int
	Kind string
	At   time.Duration // from the start of the load
	For  time.Duration // 0: until it ends by itself, or the end of the scenario
	// Index is the instance's position (0 = first) or -1 when Instance
	// names it or the fault is service-wide.
	Index    int
	Instance string
	Percent  int  // loss, http-delay, http-abort: share of packets/requests
	Status   int  // http-abort: the status to answer
	Reset    bool // http-abort: reset the connection instead
	First    int  // http-delay, http-abort: only the first N requests
	Delay    time.Duration
	Rate     string // bandwidth: the limit, e.g. 1mbit
}

// Target names the fault's instance as written: "#0", "demo-1" or
// "(service)".
func (f Fault) Target() string {
	switch {
	case f.Index >= 0:
		return fmt.Sprintf("instance %d", f.Index)
	case f.Instance != "":
		return f.Instance
	}
	return "the service"
}

// Describe is a short phrase for reports: "kill of instance 0 at 4s".
func (f Fault) Describe() string {
	s := f.api("").Effect()
	if f.First > 0 {
		s += fmt.Sprintf(" (first %d)", f.First)
	}
	if f.Percent > 0 && f.Kind != Loss {
		s += fmt.Sprintf(" %d%%", f.Percent)
	}
	s += " of " + f.Target() + " at " + f.At.String()
	if f.For > 0 {
		s += " for " + f.For.String()
	}
	return s
}

// Limit is a bound on failed requests: a count, or a percentage of all.
type Limit struct {
	N       int
	Percent float64
	IsPct   bool
}

func (l Limit) String() string {
	if l.IsPct {
		return fmt.Sprintf("%g%%", l.Percent)
	}
	return fmt.Sprint(l.N)
}

// Allows reports whether failed of total is within the limit.
func (l Limit) Allows(failed, total int) bool {
	if !l.IsPct {
		return failed <= l.N
	}
	if total == 0 {
		return failed == 0
	}
	return float64(failed)*100 <= l.Percent*float64(total)
}

// Count is a comparison with a number: "== 2", "<= 5", ">= 100".
type Count struct {
	Op string // ==, <=, >=, <, >
	N  int
}

func (c Count) String() string { return c.Op + " " + fmt.Sprint(c.N) }

// Holds reports whether n satisfies the comparison.
func (c Count) Holds(n int) bool {
	switch c.Op {
	case "<=":
		return n <= c.N
	case ">=":
		return n >= c.N
	case "<":
		return n < c.N
	case ">":
		return n > c.N
	}
	return n == c.N
}

// Bounds are the limits that apply to a set of requests (overall or one
// phase).
type Bounds struct {
	MaxFailed *Limit
	P50, P99  *time.Duration
}

func (b Bounds) empty() bool { return b.MaxFailed == nil && b.P50 == nil && b.P99 == nil }

// Expect is what must hold for the scenario to pass.
type Expect struct {
	Bounds // over every request
	// Before applies before the first fault, During to each fault's
	// window, After from each fault's end to the next fault (or the end).
	Before, During, After Bounds
	// RecoveredWithin: every instance back and ready within this long
	// after the last fault ended.
	RecoveredWithin *time.Duration
	Restarts        []KeyCount // Key: "total", an instance index or name
	Status          []KeyCount // Key: an HTTP status code
	Events          []EventExpect
}

// KeyCount is a Count about one key (an instance, a status code).
type KeyCount struct {
	Key   string
	Index int // instance index, or -1
	Count Count
	Line  int
}

// EventExpect wants events of Sequence, in that order, about the fault's
// instance (or Instance), the first within Within of the fault's start
// and each following within Within of it too.
type EventExpect struct {
	Line     int
	Fault    int
	Instance string // "" = the fault's instance
	Sequence []string
	Within   time.Duration
}
