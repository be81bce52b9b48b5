package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/service"
)

func TestServiceFileIsValid(t *testing.T) {
	p, err := writeService(t.TempDir(), "bench_x", 7)
	if err != nil {
		t.Fatal(err)
	}
	svc, warnings, err := service.Load(p)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("load: %v, warnings %v", err, warnings)
	}
	if svc.Metadata.Name != "bench_x" || svc.Metadata.Instance != 7 || serviceName(p) != "bench_x" {
		t.Errorf("name %q instances %d serviceName %q", svc.Metadata.Name, svc.Metadata.Instance, serviceName(p))
	}
	hc := svc.Containers[0].HealthCheck
	if hc.PeriodSeconds != probePeriod || hc.TimeoutSeconds != probeTimeout || hc.FailureThreshold != readyFailures {
		t.Errorf("readiness %+v does not match the constants the report's bound uses", hc)
	}
}

// frame builds an Ethernet/IPv4/TCP frame to dst with payload.
func frame(dst [4]byte, proto byte, payload string) []byte {
	f := make([]byte, 14+20+20, 14+20+20+len(payload)+8)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	ip[9] = proto
	copy(ip[16:], dst[:])
	ip[20+12] = 5 << 4 // TCP data offset
	f = append(f, payload...)
	return append(f, 0, 0, 0, 0) // Ethernet padding is not payload
}

func TestProbeRequest(t *testing.T) {
	dst := [4]byte{10, 213, 0, 7}
	ip, path, ok := probeRequest(frame(dst, 6, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"))
	if !ok || path != "/ready" || ip.String() != "10.213.0.7" {
		t.Errorf("got %v %q %v", ip, path, ok)
	}
	for name, f := range map[string][]byte{
		"other path": frame(dst, 6, "GET / HTTP/1.1\r\n\r\n"),
		"prefix":     frame(dst, 6, "GET /readyz HTTP/1.1\r\n\r\n"),
		"udp":        frame(dst, 17, "GET /ready HTTP/1.1\r\n"),
		"no payload": frame(dst, 6, ""),
		"short":      make([]byte, 20),
	} {
		if _, _, ok := probeRequest(f); ok {
			t.Errorf("%s: taken for a probe", name)
		}
	}
}

func TestCPUTicksAndMemOfSelf(t *testing.T) {
	busy := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(busy) {
	}
	ticks, err := cpuTicks(os.Getpid())
	if err != nil || ticks <= 0 {
		t.Fatalf("cpuTicks: %d, %v", ticks, err)
	}
	rss, hwm, threads := memOf(os.Getpid())
	if rss <= 0 || hwm < rss || threads <= 0 {
		t.Errorf("rss %v hwm %v threads %d", rss, hwm, threads)
	}
	if _, err := cpuTicks(0); err == nil {
		t.Error("pid 0 accepted")
	}
}

func TestMedianAndQuantile(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median even %v", m)
	}
	if m := median(nil); m != 0 {
		t.Errorf("median empty %v", m)
	}
	if v := q([]float64{1, 2, 3, 4}, 0.99); v != 4 {
		t.Errorf("q99 %v", v)
	}
}

func TestUpdateServiceFiles(t *testing.T) {
	dir := t.TempDir()
	var svcs []*service.Service
	for _, v := range []string{"1", "2"} {
		p, err := writeServiceWith(filepath.Join(dir, v), "bench_upd", updInstances, updMetadata, v)
		if err != nil {
			t.Fatal(err)
		}
		svc, warnings, err := service.Load(p)
		if err != nil || len(warnings) > 0 {
			t.Fatalf("load %s: %v, warnings %v", p, err, warnings)
		}
		svcs = append(svcs, svc)
	}
	m := svcs[0].Metadata
	if m.RollingStrategy == nil || m.RollingStrategy.MaxSurge != service.IntOrPercent(fmt.Sprint(updMaxSurge)) ||
		m.RollingStrategy.MaxUnavailable != service.IntOrPercent(fmt.Sprint(updMaxUnavailable)) {
		t.Errorf("rolling_strategy %+v, want the constants the report states", m.RollingStrategy)
	}
	if m.GracePeriod() != updGrace*time.Second || m.RPC == nil || !m.RPC.EnableSigterm {
		t.Errorf("grace %v, rpc %+v; want %ds with SIGTERM", m.GracePeriod(), m.RPC, updGrace)
	}
	env := func(s *service.Service) []service.EnvVar { return s.Containers[0].Env }
	if len(env(svcs[0])) != 1 || env(svcs[0])[0].Name != "VERSION" || env(svcs[0])[0].Value != "1" || env(svcs[1])[0].Value != "2" {
		t.Errorf("env %+v and %+v, want VERSION 1 and 2", env(svcs[0]), env(svcs[1]))
	}
}

func TestUpdateBoundsObserve(t *testing.T) {
	in := func(state string, ready bool) admin.InstanceStatus {
		return admin.InstanceStatus{State: state, Ready: ready}
	}
	var b updateBounds
	// 3 old ready + 1 new starting, then one old terminating beside 3 ready.
	b.observe(admin.ServiceStatus{Instances: []admin.InstanceStatus{in("Running", true), in("Running", true), in("Running", true), in("Starting", false)}}, 3)
	b.observe(admin.ServiceStatus{Instances: []admin.InstanceStatus{in("Terminating", false), in("Running", true), in("Running", true), in("Running", true), in("Creating", false)}}, 3)
	// A ready instance that is terminating does not count as ready.
	b.observe(admin.ServiceStatus{Instances: []admin.InstanceStatus{in("Terminating", true), in("Running", true), in("Running", true)}}, 2)
	want := updateBounds{Samples: 3, MaxLive: 4, MaxAll: 5, MinReady: 2, MinEndpoints: 2}
	if b != want {
		t.Errorf("bounds %+v, want %+v", b, want)
	}
}

func TestUpdateMarkdown(t *testing.T) {
	round := func(took time.Duration, failed int, b updateBounds) updateRound {
		r := updateRound{Revision: 2, Took: took, Rollout: took - 100*time.Millisecond, Requests: 1000, Failed: failed, Max: 40 * time.Millisecond, Bounds: b}
		if failed > 0 {
			r.Codes = map[string]int{"HTTP 503": failed}
		}
		return r
	}
	u := &updateResult{Clients: 8, Instances: 3, MaxSurge: 1, MaxUnavailable: 0, Grace: 3 * time.Second, Before: 2 * time.Second, After: 2 * time.Second, SamplePeriod: 100 * time.Millisecond,
		Rounds: []updateRound{
			round(12*time.Second, 0, updateBounds{Samples: 100, MaxLive: 4, MaxAll: 5, MinReady: 3, MinEndpoints: 3}),
			round(20*time.Second, 2, updateBounds{Samples: 150, MaxLive: 4, MaxAll: 4, MinReady: 3, MinEndpoints: 3}),
			round(10*time.Second, 0, updateBounds{Samples: 90, MaxLive: 4, MaxAll: 5, MinReady: 3, MinEndpoints: 3}),
		}}
	md := u.markdown()
	for _, want := range []string{
		"`update` took 12.00 s [10.000–20.000]",
		"rollout 11.90 s [9.900–19.900]",
		"2 (2× HTTP 503) of 3000 requests failed",
		"over 340 samples: at most 4 instances not terminating (limit desired + max_surge = 4: held; 5 counting terminating ones), at least 3 ready (limit desired − max_unavailable = 3: held)",
		"| 2 | 2 | 20.00 s | 19.90 s | 1000 | 2 | 40ms | 4 (4) | 3 | 3 | 150 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	u.Rounds[1].Bounds.MaxLive, u.Rounds[2].Bounds.MinEndpoints = 5, 2
	md = u.markdown()
	if !strings.Contains(md, "at most 5 instances not terminating (limit desired + max_surge = 4: NOT held") || !strings.Contains(md, "= 3: NOT held) and 2 endpoints") {
		t.Errorf("a broken bound is not reported:\n%s", md)
	}
	if md := (&updateResult{}).markdown(); !strings.Contains(md, "No round completed") {
		t.Errorf("no rounds:\n%s", md)
	}
}
