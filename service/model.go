package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/shlex"
)

// ProbeKind names one of the three health checks of a container.
type ProbeKind string

const (
	Startup   ProbeKind = "startup"
	Liveness  ProbeKind = "liveness"
	Readiness ProbeKind = "readiness"
)

// ProbeKinds lists the kinds in the order the kubelet gates them: startup
// first, then liveness and readiness.
var ProbeKinds = []ProbeKind{Startup, Liveness, Readiness}

// Field is the service.json key of the kind: readiness is health_check.
func (k ProbeKind) Field() string {
	switch k {
	case Liveness:
		return "liveness_check"
	case Startup:
		return "startup_check"
	default:
		return "health_check"
	}
}

// Probe returns the container's probe of that kind, or nil.
func (c *Container) Probe(kind ProbeKind) *Probe {
	switch kind {
	case Liveness:
		return c.LivenessCheck
	case Startup:
		return c.StartupCheck
	case Readiness:
		return c.HealthCheck
	}
	return nil
}

// Args is the process to start: Command split into words as a shell would
// (quotes and backslashes honoured) and run without a shell; Script run by
// /bin/sh -c; nil when neither is set, meaning the image's own
// entrypoint and cmd. The error only happens on a Service that did not
// come from a successful Parse (e.g. an unterminated quote).
func (c *Container) Args() ([]string, error) {
	switch {
	case c.Command != "" && c.Script != "":
		return nil, errors.New("command and script are both set; keep one")
	case c.Script != "":
		return []string{"/bin/sh", "-c", c.Script}, nil
	case c.Command != "":
		words, err := shlex.Split(c.Command)
		if err != nil {
			return nil, fmt.Errorf("command %q cannot be split into words: %w", c.Command, err)
		}
		if len(words) == 0 {
			return nil, fmt.Errorf("command %q has no words", c.Command)
		}
		return words, nil
	}
	return nil, nil
}

// Method is "http_get", "tcp_socket" or "exec" ("" if none is set).
func (p *Probe) Method() string {
	switch {
	case p.HTTPGet != nil:
		return "http_get"
	case p.TCPSocket != nil:
		return "tcp_socket"
	case p.Exec != nil:
		return "exec"
	}
	return ""
}

// Target says what the probe checks: "http_get :8000/health",
// "tcp_socket :8000" or "exec cat /tmp/healthy".
func (p *Probe) Target() string {
	switch {
	case p.HTTPGet != nil:
		return fmt.Sprintf("http_get :%d%s", p.HTTPGet.Port, p.HTTPGet.Path)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp_socket :%d", p.TCPSocket.Port)
	case p.Exec != nil:
		return "exec " + quoteWords(p.Exec.Command)
	}
	return "no check method"
}

// Describe is one line saying what the probe does with its effective
// timing, as validate prints it, e.g. for liveness: "http_get :8000/health
// every 10s, timeout 1s, restart after 1 failure, first check at 0s".
func (p *Probe) Describe(kind ProbeKind) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s every %ds, timeout %ds, ", p.Target(), p.PeriodSeconds, p.TimeoutSeconds)
	switch kind {
	case Readiness:
		fmt.Fprintf(&b, "not ready after %s, ready after %s",
			plural(p.FailureThreshold, "failure", "failures"), plural(p.SuccessThreshold, "success", "successes"))
	case Liveness:
		fmt.Fprintf(&b, "restart after %s", plural(p.FailureThreshold, "failure", "failures"))
	case Startup:
		fmt.Fprintf(&b, "restart after %s, gates liveness and readiness", plural(p.FailureThreshold, "failure", "failures"))
	}
	fmt.Fprintf(&b, ", first check at %ds", p.InitialDelaySeconds)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// quoteWords joins words so that a shell (and shlex) would split them back
// the same way.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t\n\"'\\$`#;&|<>(){}*?[]~") {
			q[i] = w
		} else {
			q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// MarshalJSON writes a number for a plain integer and a string otherwise,
// so `validate --json` gives back what service.json had.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return strconv.AppendInt(nil, i, 10), nil
	}
	return json.Marshal(string(v))
}

// UnmarshalJSON accepts a number or a string (Parse does its own decoding;
// this keeps plain encoding/json able to read validate's output).
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = IntOrPercent(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("expected a whole number or a percentage string like \"25%%\": %w", err)
	}
	*v = IntOrPercent(n)
	return nil
}

// instanceTypeSize matches the cNNmMM part of an EAS instance type name
// such as ml.gu7i.c16m60.1-gu30.
var instanceTypeSize = regexp.MustCompile(`^c([0-9]{1,4})m([0-9]{1,5})$`)

// InstanceTypeResources reads cores and memory from an EAS instance type:
// `ml.gu7i.c16m60.1-gu30` gives 16 cores and 60000 MB. The memory is
// counted as GB×1000 (not ×1024) because public EAS templates pair that
// type with "memory": 60000. ok is false when the name has no cNNmMM part
// (no official naming document was found; other names are not guessed).
func InstanceTypeResources(instanceType string) (cpu, memoryMB int, ok bool) {
	for part := range strings.SplitSeq(instanceType, ".") {
		m := instanceTypeSize.FindStringSubmatch(part)
		if m == nil {
			continue
		}
		cpu, _ = strconv.Atoi(m[1])
		gb, _ := strconv.Atoi(m[2])
		if cpu == 0 || gb == 0 {
			return 0, 0, false
		}
		return cpu, gb * 1000, true
	}
	return 0, 0, false
}

// DefaultTerminationGracePeriod is EAS's metadata.eas.termination_grace_period.
const DefaultTerminationGracePeriod = 30 * time.Second

// GracePeriod is metadata.eas.termination_grace_period as a duration:
// how long a terminating instance keeps running after it leaves the
// endpoints, EAS's 30 s when not given.
func (m *Metadata) GracePeriod() time.Duration {
	if m.EAS == nil || m.EAS.TerminationGracePeriod <= 0 {
		return DefaultTerminationGracePeriod
	}
	return time.Duration(m.EAS.TerminationGracePeriod) * time.Second
}
