package main

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

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
