package scenario

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/suggest"
	"github.com/easlocal/easlocal/service"
)

// MaxFileSize bounds what LoadFile reads: a scenario file is a few KB.
const MaxFileSize = 1 << 20

// Diagnostic is one problem in a scenario file: where, which field, what
// is wrong and how to fix it.
type Diagnostic struct {
	Line, Column int
	Field        string // e.g. "faults[1].percent"
	Message      string
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("line %d: %s: %s", d.Line, d.Field, d.Message)
}

// FileError is a scenario file that cannot be run: unreadable, not YAML,
// or invalid. The CLI exits 2 for it.
type FileError struct {
	File   string
	Errors []Diagnostic
	Err    error // reading or YAML syntax, when there are no Errors
}

func (e *FileError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s is not a valid scenario file", e.File)
	if len(e.Errors) > 1 {
		fmt.Fprintf(&b, " (%d errors)", len(e.Errors))
	}
	b.WriteString(":")
	for _, d := range e.Errors {
		fmt.Fprintf(&b, "\n  %s:%s", e.File, strings.TrimPrefix(d.String(), "line "))
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// LoadFile reads and validates a scenario file.
func LoadFile(path string) ([]Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{File: path, Err: err}
	}
	if len(data) > MaxFileSize {
		return nil, &FileError{File: path, Err: fmt.Errorf("larger than %d bytes; a scenario file is a few KB", MaxFileSize)}
	}
	return Parse(path, data)
}

// Parse validates data, read from path (service files are resolved
// against its directory). Every problem found is reported, in a
// *FileError.
func Parse(path string, data []byte) ([]Scenario, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &FileError{File: path, Err: yamlError(err)}
	}
	p := &parser{file: path, dir: filepath.Dir(path)}
	if len(doc.Content) == 0 {
		doc.Line = 1
		p.errorf(&doc, "(top level)", "the file is empty; start with `name:`, `service:` and `load:` (see examples/scenarios)")
		return nil, p.result()
	}
	root := doc.Content[0]
	// Aliases are refused rather than followed: following them would let a
	// small file expand without bound, and a scenario is short enough to
	// write out.
	if a := findAlias(root); a != nil {
		p.errorf(a, "(top level)", "anchors and aliases (&name, *name) are not supported; write the value out")
		return nil, p.result()
	}
	var out []Scenario
	if root.Kind == yaml.MappingNode && hasKey(root, "scenarios") {
		m := p.mapping(root, "", []string{"scenarios"})
		list := m["scenarios"]
		if list != nil && list.Kind != yaml.SequenceNode {
			p.errorf(list, "scenarios", "must be a list of scenarios, each starting with `- name: ...`")
		} else if list != nil {
			if len(list.Content) == 0 {
				p.errorf(list, "scenarios", "empty; add at least one scenario")
			}
			for i, n := range list.Content {
				out = append(out, p.scenario(n, fmt.Sprintf("scenarios[%d]", i)))
			}
		}
	} else {
		out = append(out, p.scenario(root, ""))
	}
	seen := map[string]int{}
	for i, s := range out {
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			p.errs = append(p.errs, Diagnostic{Line: s.Line, Field: field(fmt.Sprintf("scenarios[%d]", i), "name"),
				Message: fmt.Sprintf("%q is also the name of scenarios[%d]; give each scenario its own name", s.Name, j)})
		}
		seen[s.Name] = i
	}
	if err := p.result(); err != nil {
		return nil, err
	}
	return out, nil
}

// findAlias returns the first alias node under n, walking the tree as
// parsed (aliases are not followed).
func findAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := findAlias(c); a != nil {
			return a
		}
	}
	return nil
}

// yamlError rewords the YAML library's errors ("yaml: line 3: ...").
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return fmt.Errorf("not valid YAML: %s", msg)
}

type parser struct {
	file, dir string
	errs      []Diagnostic
}

func (p *parser) result() error {
	if len(p.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(p.errs, func(a, b Diagnostic) int { return a.Line - b.Line })
	return &FileError{File: p.file, Errors: p.errs}
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, Diagnostic{Line: n.Line, Column: n.Column, Field: path, Message: fmt.Sprintf(format, args...)})
}

func field(prefix, key string) string {
	if prefix == "" {
		return key
	}
	if strings.HasPrefix(key, "[") {
		return prefix + key
	}
	return prefix + "." + key
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// mapping returns n's values by key, reporting a non-mapping, duplicate
// keys and keys not in known (with the closest known key).
func (p *parser) mapping(n *yaml.Node, path string, known []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	where := path
	if where == "" {
		where = "(top level)"
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, where, "must be a mapping of %s", strings.Join(known, ", "))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			if len(known) > 0 {
				p.errorf(k, where, "a key must be a plain name such as %s", known[0])
			} else {
				p.errorf(k, where, "a key must be a plain, non-empty name or number")
			}
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, field(path, k.Value), "given twice; keep one")
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			msg := fmt.Sprintf("unknown field; %s takes %s", where, strings.Join(known, ", "))
			if s := closest(k.Value, known); s != "" {
				msg = fmt.Sprintf("unknown field; did you mean %s?", s)
			}
			p.errorf(k, field(path, k.Value), "%s", msg)
			continue
		}
		out[k.Value] = v
	}
	return out
}

var scenarioKeys = []string{"name", "service", "instances", "up", "load", "faults", "expect"}

func (p *parser) scenario(n *yaml.Node, path string) Scenario {
	s := Scenario{File: p.file, Line: n.Line, Load: Load{Method: "GET", Path: "/", Mode: Gateway, Timeout: 10 * time.Second}}
	m := p.mapping(n, path, scenarioKeys)
	if n.Kind != yaml.MappingNode {
		return s
	}
	if v := m["name"]; v != nil {
		s.Name = p.str(v, field(path, "name"))
		if s.Name == "" && v.Kind == yaml.ScalarNode {
			p.errorf(v, field(path, "name"), "empty; name the scenario, e.g. name: kill-under-load")
		}
	} else {
		s.Name = strings.TrimSuffix(filepath.Base(p.file), filepath.Ext(p.file))
		if path != "" {
			p.errorf(n, field(path, "name"), "missing; each scenario of a list needs a name, e.g. name: kill-under-load")
		}
	}
	if v := m["service"]; v == nil {
		p.errorf(n, field(path, "service"), "missing; name the service.json, relative to this file: service: service.json")
	} else if rel := p.str(v, field(path, "service")); rel != "" {
		s.Service = rel
		if !filepath.IsAbs(rel) {
			s.Service = filepath.Join(p.dir, rel)
		}
		svc, _, err := service.Load(s.Service)
		switch {
		case errors.Is(err, os.ErrNotExist):
			p.errorf(v, field(path, "service"), "%s does not exist; the path is relative to the scenario file's directory", s.Service)
		case err != nil:
			p.errorf(v, field(path, "service"), "%s: %v; `easlocal validate %s` says more", s.Service, err, s.Service)
		default:
			s.Count = svc.Metadata.Instance
		}
	}
	if v := m["instances"]; v != nil {
		if k, ok := p.int(v, field(path, "instances")); ok {
			if k < 1 {
				p.errorf(v, field(path, "instances"), "%d; a scenario needs at least 1 instance", k)
			} else {
				s.Instances, s.Count = &k, k
			}
		}
	}
	if v := m["up"]; v != nil {
		s.Up = p.up(v, field(path, "up"))
	}
	if v := m["load"]; v == nil {
		p.errorf(n, field(path, "load"), "missing; say what traffic to drive, e.g. load: {rate: 40, path: /, duration: 20s}")
	} else {
		s.Load = p.load(v, field(path, "load"), s.Load)
	}
	if v := m["faults"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, field(path, "faults"), "must be a list, each entry like - {at: 4s, instance: 0, fault: kill}")
		} else {
			for i, fn := range v.Content {
				s.Faults = append(s.Faults, p.fault(fn, field(path, fmt.Sprintf("faults[%d]", i)), s))
			}
		}
	}
	if v := m["expect"]; v == nil {
		p.errorf(n, field(path, "expect"), "missing; say what must hold, e.g. expect: {max_failed: 0}")
	} else {
		s.Expect = p.expect(v, field(path, "expect"), s)
	}
	return s
}

var upKeys = []string{"restart_policy", "backoff_initial", "backoff_max", "stop_grace", "wait_timeout", "no_retry", "token"}

func (p *parser) up(n *yaml.Node, path string) Up {
	var u Up
	m := p.mapping(n, path, upKeys)
	dur := func(key string) *time.Duration {
		v := m[key]
		if v == nil {
			return nil
		}
		d, ok := p.duration(v, field(path, key))
		if !ok {
			return nil
		}
		if d <= 0 {
			p.errorf(v, field(path, key), "must be positive, e.g. 1s")
			return nil
		}
		return &d
	}
	if v := m["restart_policy"]; v != nil {
		s := p.str(v, field(path, "restart_policy"))
		if s != "always" && s != "on-failure" && s != "never" {
			p.errorf(v, field(path, "restart_policy"), "%q; use always, on-failure or never", s)
		} else {
			u.RestartPolicy = &s
		}
	}
	u.BackoffInitial, u.BackoffMax = dur("backoff_initial"), dur("backoff_max")
	u.StopGrace, u.WaitTimeout = dur("stop_grace"), dur("wait_timeout")
	if v := m["no_retry"]; v != nil {
		if b, ok := p.bool(v, field(path, "no_retry")); ok {
			u.NoRetry = &b
		}
	}
	if v := m["token"]; v != nil {
		s := p.str(v, field(path, "token"))
		u.Token = &s
	}
	return u
}

var loadKeys = []string{"rate", "clients", "method", "path", "headers", "body", "duration", "timeout", "mode"}

func (p *parser) load(n *yaml.Node, path string, l Load) Load {
	m := p.mapping(n, path, loadKeys)
	if n.Kind != yaml.MappingNode {
		return l
	}
	rate, clients := m["rate"], m["clients"]
	switch {
	case rate != nil && clients != nil:
		p.errorf(clients, field(path, "clients"), "give either rate (open loop, requests per second) or clients (closed loop), not both")
	case rate != nil:
		if f, ok := p.float(rate, field(path, "rate")); ok {
			if f <= 0 || f > 10000 {
				p.errorf(rate, field(path, "rate"), "%g; give more than 0 and at most 10000 requests per second, e.g. rate: 40", f)
			}
			l.Rate = f
		}
	case clients != nil:
		if k, ok := p.int(clients, field(path, "clients")); ok {
			if k < 1 || k > 1000 {
				p.errorf(clients, field(path, "clients"), "%d; give 1 to 1000 closed-loop clients", k)
			}
			l.Clients = k
		}
	default:
		l.Clients = 4
	}
	if v := m["method"]; v != nil {
		l.Method = strings.ToUpper(p.str(v, field(path, "method")))
		if l.Method == "" || strings.ContainsAny(l.Method, " \t\r\n:/") {
			p.errorf(v, field(path, "method"), "%q is not an HTTP method; e.g. GET or POST", v.Value)
		}
	}
	if v := m["path"]; v != nil {
		l.Path = p.str(v, field(path, "path"))
		if !strings.HasPrefix(l.Path, "/") || strings.ContainsAny(l.Path, " \t\r\n") {
			p.errorf(v, field(path, "path"), "%q; write the path below the service's prefix, starting with / and without spaces, e.g. path: /predict", l.Path)
		}
	}
	if v := m["headers"]; v != nil {
		hm := p.mapping(v, field(path, "headers"), nil)
		for i := 0; v.Kind == yaml.MappingNode && i+1 < len(v.Content); i += 2 {
			k := v.Content[i].Value
			if hm[k] == nil {
				continue
			}
			val := p.str(hm[k], field(path, "headers."+k))
			if k == "" || strings.ContainsAny(k, " \t:\r\n") {
				p.errorf(v.Content[i], field(path, "headers."+k), "not a header name; use letters, digits and -")
			} else if strings.ContainsAny(val, "\r\n") {
				p.errorf(hm[k], field(path, "headers."+k), "the value spans lines; keep it on one line")
			} else {
				l.Headers = append(l.Headers, [2]string{k, val})
			}
		}
	}
	if v := m["body"]; v != nil {
		l.Body = p.str(v, field(path, "body"))
	}
	if v := m["duration"]; v == nil {
		p.errorf(n, field(path, "duration"), "missing; say how long the load runs, e.g. duration: 20s")
	} else if d, ok := p.duration(v, field(path, "duration")); ok {
		if d < time.Second || d > time.Hour {
			p.errorf(v, field(path, "duration"), "%s; give 1s to 1h", d)
		}
		l.Duration = d
	}
	if d, ok := p.positive(m, path, "timeout", "10s"); ok {
		l.Timeout = d
	}
	if v := m["mode"]; v != nil {
		l.Mode = p.str(v, field(path, "mode"))
		if l.Mode != Gateway && l.Mode != Direct {
			p.errorf(v, field(path, "mode"), "%q; use gateway (through /api/predict/<service>) or direct (to the ready instances, as the SDKs' direct mode)", l.Mode)
		}
	}
	return l
}

var faultKeys = []string{"at", "instance", "fault", "for", "percent", "status", "reset", "first", "delay", "rate"}

// faultTakes says which optional fields each kind takes.
var faultTakes = map[string][]string{
	Kill:      {},
	Exit:      {},
	Pause:     {"for"},
	Blackhole: {"for"},
	Reject:    {"for"},
	Loss:      {"for", "percent"},
	Bandwidth: {"for", "rate"},
	HTTPDelay: {"for", "percent", "delay", "first"},
	HTTPAbort: {"for", "percent", "status", "reset", "first"},
}

func (p *parser) fault(n *yaml.Node, path string, s Scenario) Fault {
	f := Fault{Line: n.Line, Index: -1}
	m := p.mapping(n, path, faultKeys)
	if n.Kind != yaml.MappingNode {
		return f
	}
	kn := m["fault"]
	if kn == nil {
		p.errorf(n, field(path, "fault"), "missing; say which fault: %s", strings.Join(Kinds, ", "))
		return f
	}
	f.Kind = strings.ReplaceAll(p.str(kn, field(path, "fault")), "_", "-")
	takes, known := faultTakes[f.Kind]
	if !known {
		msg := fmt.Sprintf("%q is not a fault; use one of %s", kn.Value, strings.Join(Kinds, ", "))
		if c := closest(f.Kind, Kinds); c != "" {
			msg = fmt.Sprintf("%q is not a fault; did you mean %s?", kn.Value, c)
		}
		p.errorf(kn, field(path, "fault"), "%s", msg)
		return f
	}
	for _, k := range []string{"for", "percent", "status", "reset", "first", "delay", "rate"} {
		if v := m[k]; v != nil && !slices.Contains(takes, k) {
			takesText := "no other field"
			if len(takes) > 0 {
				takesText = strings.Join(takes, ", ")
			}
			p.errorf(v, field(path, k), "%s does not take %s (it takes %s); remove it", f.Kind, k, takesText)
			delete(m, k)
		}
	}
	if v := m["at"]; v == nil {
		p.errorf(n, field(path, "at"), "missing; say when, from the start of the load, e.g. at: 4s")
	} else if d, ok := p.duration(v, field(path, "at")); ok {
		switch {
		case d < 0:
			p.errorf(v, field(path, "at"), "%s is before the load starts; give 0s or later", d)
		case s.Load.Duration > 0 && d >= s.Load.Duration:
			p.errorf(v, field(path, "at"), "%s is not within the load's %s; move the fault earlier or make load.duration longer", d, s.Load.Duration)
		}
		f.At = d
	}
	if d, ok := p.positive(m, path, "for", "5s (leave it out to keep the fault until the end)"); ok {
		f.For = d
	}
	if v := m["instance"]; v == nil {
		if !strings.HasPrefix(f.Kind, "http-") {
			p.errorf(n, field(path, "instance"), "missing; say which instance: an index (0 = the first) or a name")
		}
	} else if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		k, _ := p.int(v, field(path, "instance"))
		switch {
		case k < 0:
			p.errorf(v, field(path, "instance"), "%d; an index counts from 0 (the first instance)", k)
		case s.Count > 0 && k >= s.Count:
			p.errorf(v, field(path, "instance"), "%d, but the service runs %d instance(s) (0 to %d); use a smaller index or raise instances", k, s.Count, s.Count-1)
		}
		f.Index = k
	} else {
		f.Instance = p.str(v, field(path, "instance"))
		if f.Instance == "" && v.Kind == yaml.ScalarNode {
			p.errorf(v, field(path, "instance"), "empty; give an index (0 = the first) or a name")
		}
	}
	if v := m["percent"]; v != nil {
		if k, ok := p.percent(v, field(path, "percent")); ok {
			f.Percent = k
		}
	} else if f.Kind == Loss {
		p.errorf(n, field(path, "percent"), "missing; loss needs the share of packets to drop, e.g. percent: 30")
	}
	if v := m["status"]; v != nil {
		if k, ok := p.int(v, field(path, "status")); ok {
			if k < 200 || k > 599 {
				p.errorf(v, field(path, "status"), "%d is not a status to answer with; give 200 to 599, e.g. status: 503", k)
			}
			f.Status = k
		}
	}
	if v := m["reset"]; v != nil {
		if b, ok := p.bool(v, field(path, "reset")); ok {
			f.Reset = b
			if b && m["status"] != nil {
				p.errorf(v, field(path, "reset"), "give either status (answer it) or reset: true (reset the connection), not both")
			}
		}
	}
	if f.Kind == HTTPAbort && f.Status == 0 && !f.Reset {
		f.Status = 503
	}
	if v := m["rate"]; v != nil {
		f.Rate = p.str(v, field(path, "rate"))
		if !validRate(f.Rate) {
			p.errorf(v, field(path, "rate"), "%q; give the limit as tc writes it, e.g. 1mbit, 500kbit or 2mbps", v.Value)
		}
	} else if f.Kind == Bandwidth {
		p.errorf(n, field(path, "rate"), "missing; bandwidth needs the limit, e.g. rate: 1mbit")
	}
	if v := m["first"]; v != nil {
		if k, ok := p.int(v, field(path, "first")); ok {
			if k < 1 {
				p.errorf(v, field(path, "first"), "%d; give the number of requests to abort, 1 or more", k)
			}
			f.First = k
		}
	}
	if v := m["delay"]; v != nil {
		if d, ok := p.duration(v, field(path, "delay")); ok {
			if d <= 0 || d > time.Hour {
				p.errorf(v, field(path, "delay"), "%s; give the added latency, e.g. delay: 200ms", d)
			}
			f.Delay = d
		}
	} else if f.Kind == HTTPDelay {
		p.errorf(n, field(path, "delay"), "missing; http-delay needs the latency to add, e.g. delay: 200ms")
	}
	return f
}

var expectKeys = []string{"max_failed", "p50", "p99", "before", "during", "after", "recovered_within", "restarts", "status", "events"}

func (p *parser) expect(n *yaml.Node, path string, s Scenario) Expect {
	var e Expect
	m := p.mapping(n, path, expectKeys)
	if n.Kind != yaml.MappingNode {
		return e
	}
	e.Bounds = p.bounds(m, path)
	for _, ph := range []struct {
		key string
		b   *Bounds
	}{{"before", &e.Before}, {"during", &e.During}, {"after", &e.After}} {
		v := m[ph.key]
		if v == nil {
			continue
		}
		if len(s.Faults) == 0 {
			p.errorf(v, field(path, ph.key), "there are no faults, so no phases; move its limits up into expect")
		}
		*ph.b = p.bounds(p.mapping(v, field(path, ph.key), []string{"max_failed", "p50", "p99"}), field(path, ph.key))
		if ph.b.empty() && v.Kind == yaml.MappingNode && len(v.Content) == 0 {
			p.errorf(v, field(path, ph.key), "empty; give max_failed, p50 or p99")
		}
	}
	if d, ok := p.positive(m, path, "recovered_within", "30s"); ok {
		if len(s.Faults) == 0 {
			p.errorf(m["recovered_within"], field(path, "recovered_within"), "there are no faults to recover from; add faults or remove it")
		}
		e.RecoveredWithin = &d
	}
	if v := m["restarts"]; v != nil {
		e.Restarts = p.counts(v, field(path, "restarts"), func(kn *yaml.Node, kc *KeyCount) bool {
			kc.Index = -1
			if kn.Value == "total" {
				return true
			}
			if k, err := strconv.Atoi(kn.Value); err == nil {
				if k < 0 || (s.Count > 0 && k >= s.Count) {
					p.errorf(kn, field(path, "restarts."+kn.Value), "no instance %d; the service runs %d (0 to %d)", k, s.Count, s.Count-1)
					return false
				}
				kc.Index = k
			}
			return true
		})
	}
	if v := m["status"]; v != nil {
		e.Status = p.counts(v, field(path, "status"), func(kn *yaml.Node, kc *KeyCount) bool {
			kc.Index = -1
			k, err := strconv.Atoi(kn.Value)
			if err != nil || k < 100 || k > 599 {
				p.errorf(kn, field(path, "status."+kn.Value), "not an HTTP status code; write e.g. 503: 0 or 200: \">= 100\"")
				return false
			}
			return true
		})
	}
	if v := m["events"]; v != nil {
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, field(path, "events"), "must be a list, each entry like - {fault: 0, reason: EndpointRemoved, within: 3s}")
		} else {
			for i, en := range v.Content {
				if ee, ok := p.event(en, field(path, fmt.Sprintf("events[%d]", i)), s); ok {
					e.Events = append(e.Events, ee)
				}
			}
		}
	}
	if e.Bounds.empty() && e.Before.empty() && e.During.empty() && e.After.empty() && e.RecoveredWithin == nil &&
		len(e.Restarts) == 0 && len(e.Status) == 0 && len(e.Events) == 0 && len(n.Content) == 0 {
		p.errorf(n, path, "nothing to check; give at least max_failed, e.g. expect: {max_failed: 0}")
	}
	return e
}

func (p *parser) bounds(m map[string]*yaml.Node, path string) Bounds {
	var b Bounds
	if v := m["max_failed"]; v != nil {
		if l, ok := p.limit(v, field(path, "max_failed")); ok {
			b.MaxFailed = &l
		}
	}
	for key, dst := range map[string]**time.Duration{"p50": &b.P50, "p99": &b.P99} {
		if d, ok := p.positive(m, path, key, "500ms"); ok {
			*dst = &d
		}
	}
	return b
}

// validRate accepts a tc rate: a number and a unit (bit, kbit, mbit,
// gbit, bps, kbps, mbps, gbps).
func validRate(s string) bool {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return false
	}
	if _, err := strconv.ParseFloat(s[:i], 64); err != nil {
		return false
	}
	return slices.Contains([]string{"bit", "kbit", "mbit", "gbit", "bps", "kbps", "mbps", "gbps"}, strings.ToLower(s[i:]))
}

// knownReasons are the event reasons an expectation may name.
var knownReasons = []string{
	events.Pulled, events.Created, events.Started, events.Failed, events.Killing, events.BackOff,
	events.Exited, events.Ready, events.NotReady, events.Paused, events.Resumed, events.Stopped,
	events.Scaled, events.Killed, events.Unhealthy, events.ProbeWarning, events.EndpointAdded, events.EndpointRemoved,
	events.FaultInjected, events.FaultReverted,
}

func (p *parser) event(n *yaml.Node, path string, s Scenario) (EventExpect, bool) {
	e := EventExpect{Line: n.Line}
	m := p.mapping(n, path, []string{"fault", "instance", "reason", "sequence", "within"})
	if n.Kind != yaml.MappingNode {
		return e, false
	}
	ok := true
	if v := m["fault"]; v == nil {
		p.errorf(n, field(path, "fault"), "missing; give the index of the fault (0 = the first in faults) the events follow")
		ok = false
	} else if k, good := p.int(v, field(path, "fault")); good {
		if k < 0 || k >= len(s.Faults) {
			p.errorf(v, field(path, "fault"), "no fault %d; the scenario has %d (0 to %d)", k, len(s.Faults), len(s.Faults)-1)
			ok = false
		}
		e.Fault = k
	} else {
		ok = false
	}
	if v := m["instance"]; v != nil {
		e.Instance = p.str(v, field(path, "instance"))
	}
	reason, seq := m["reason"], m["sequence"]
	switch {
	case reason != nil && seq != nil:
		p.errorf(seq, field(path, "sequence"), "give reason (one event) or sequence (several in order), not both")
		ok = false
	case reason != nil:
		e.Sequence = []string{p.str(reason, field(path, "reason"))}
	case seq != nil && seq.Kind == yaml.SequenceNode && len(seq.Content) > 0:
		for _, r := range seq.Content {
			e.Sequence = append(e.Sequence, p.str(r, field(path, "sequence")))
		}
	case seq != nil:
		p.errorf(seq, field(path, "sequence"), "must be a list of event reasons, e.g. [EndpointRemoved, Started, EndpointAdded]")
		ok = false
	default:
		p.errorf(n, field(path, "reason"), "missing; name the event, e.g. reason: EndpointRemoved")
		ok = false
	}
	for i, r := range e.Sequence {
		if !slices.Contains(knownReasons, r) {
			node := reason
			if seq != nil {
				node = seq.Content[i]
			}
			msg := fmt.Sprintf("%q is not an event reason; use one of %s", r, strings.Join(knownReasons, ", "))
			if c := closest(r, knownReasons); c != "" {
				msg = fmt.Sprintf("%q is not an event reason; did you mean %s?", r, c)
			}
			p.errorf(node, field(path, "reason"), "%s", msg)
			ok = false
		}
	}
	if v := m["within"]; v == nil {
		p.errorf(n, field(path, "within"), "missing; say how soon after the fault, e.g. within: 3s")
		ok = false
	} else if d, good := p.duration(v, field(path, "within")); good && d > 0 {
		e.Within = d
	} else {
		if good {
			p.errorf(v, field(path, "within"), "must be positive, e.g. within: 3s")
		}
		ok = false
	}
	return e, ok
}

// counts reads a mapping of key: count; check validates each key.
func (p *parser) counts(n *yaml.Node, path string, check func(*yaml.Node, *KeyCount) bool) []KeyCount {
	m := p.mapping(n, path, nil)
	var out []KeyCount
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if m[kn.Value] != vn {
			continue // reported by mapping
		}
		kc := KeyCount{Key: kn.Value, Line: kn.Line}
		if !check(kn, &kc) {
			continue
		}
		c, ok := p.count(vn, field(path, kn.Value))
		if !ok {
			continue
		}
		kc.Count = c
		out = append(out, kc)
	}
	return out
}

// count reads N (exactly N) or "OP N" with OP one of <=, >=, <, >, ==.
func (p *parser) count(n *yaml.Node, path string) (Count, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "must be a number or a comparison such as \"<= 5\"")
		return Count{}, false
	}
	s := strings.TrimSpace(n.Value)
	op := "=="
	for _, o := range []string{"<=", ">=", "==", "<", ">"} {
		if strings.HasPrefix(s, o) {
			op, s = o, strings.TrimSpace(s[len(o):])
			break
		}
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 0 {
		p.errorf(n, path, "%q; write a count (exactly), or a comparison in quotes such as \"<= 5\" or \">= 100\"", n.Value)
		return Count{}, false
	}
	return Count{Op: op, N: k}, true
}

// limit reads N or "P%".
func (p *parser) limit(n *yaml.Node, path string) (Limit, bool) {
	if n.Kind == yaml.ScalarNode && strings.HasSuffix(n.Value, "%") {
		f, err := strconv.ParseFloat(strings.TrimSuffix(n.Value, "%"), 64)
		if err != nil || f < 0 || f > 100 {
			p.errorf(n, path, "%q; give a percentage from 0%% to 100%%, e.g. 1%%", n.Value)
			return Limit{}, false
		}
		return Limit{Percent: f, IsPct: true}, true
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.errorf(n, path, "%q; give a number of requests (e.g. 0) or a percentage of them (e.g. \"1%%\")", n.Value)
		return Limit{}, false
	}
	k, ok := p.int(n, path)
	if ok && k < 0 {
		p.errorf(n, path, "%d; give 0 or more", k)
		return Limit{}, false
	}
	return Limit{N: k}, ok
}

func (p *parser) percent(n *yaml.Node, path string) (int, bool) {
	v := strings.TrimSuffix(n.Value, "%")
	k, err := strconv.Atoi(v)
	if n.Kind != yaml.ScalarNode || err != nil || k < 1 || k > 100 {
		p.errorf(n, path, "%q; give a whole percentage from 1 to 100, e.g. percent: 30", n.Value)
		return 0, false
	}
	return k, true
}

func (p *parser) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "must be a single value, not a %s", kindName(n))
		return ""
	}
	return n.Value
}

func (p *parser) int(n *yaml.Node, path string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.errorf(n, path, "%q is not a whole number", valueText(n))
		return 0, false
	}
	k, err := strconv.Atoi(n.Value)
	if err != nil {
		p.errorf(n, path, "%q is not a whole number", n.Value)
		return 0, false
	}
	return k, true
}

func (p *parser) float(n *yaml.Node, path string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		p.errorf(n, path, "%q is not a number", valueText(n))
		return 0, false
	}
	f, err := strconv.ParseFloat(n.Value, 64)
	if err != nil {
		p.errorf(n, path, "%q is not a number", n.Value)
		return 0, false
	}
	return f, true
}

func (p *parser) bool(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, path, "%q; write true or false", valueText(n))
		return false, false
	}
	return n.Value == "true", true
}

// duration reads a Go duration ("4s", "200ms", "1m30s").
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, path, "must be a duration such as 4s or 200ms, not a %s", kindName(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		hint := ""
		if _, nerr := strconv.ParseFloat(n.Value, 64); nerr == nil {
			hint = fmt.Sprintf(" (a number needs a unit: %ss)", n.Value)
		}
		p.errorf(n, path, "%q is not a duration; write e.g. 4s, 200ms or 1m30s%s", n.Value, hint)
		return 0, false
	}
	return d, true
}

// positive reads the duration at key of m, which should be positive: a
// value that is not is refused with an example (e.g. 10s) and still
// returned, for the checks that follow. ok is false when the key is
// absent or not a duration (then said already).
func (p *parser) positive(m map[string]*yaml.Node, path, key, example string) (d time.Duration, ok bool) {
	v := m[key]
	if v == nil {
		return 0, false
	}
	if d, ok = p.duration(v, field(path, key)); ok && d <= 0 {
		p.errorf(v, field(path, key), "must be positive, e.g. %s: %s", key, example)
	}
	return d, ok
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func valueText(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return kindName(n)
}

// closest returns the known word nearest to w (ignoring case, '_' and
// '-'), or "" when none is within a small edit distance.
func closest(w string, known []string) string { return suggest.Closest(w, known) }
