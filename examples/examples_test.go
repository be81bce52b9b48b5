package examples

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/service"
)

func load(t *testing.T, dir string) *service.Service {
	t.Helper()
	s, warnings, err := service.Load(filepath.Join(dir, "service.json"))
	if err != nil {
		t.Fatalf("%s/service.json: %v", dir, err)
	}
	for _, w := range warnings {
		t.Errorf("%s/service.json: warning %s", dir, w)
	}
	for i, c := range s.Containers {
		if c.Image != build.DefaultRef {
			t.Errorf("%s: containers[%d].image = %q, want the example image %s", dir, i, c.Image, build.DefaultRef)
		}
	}
	return s
}

// Every example parses without errors or warnings and uses the image
// `make examples` builds.
func TestExamplesParse(t *testing.T) {
	matches, err := filepath.Glob("*/service.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"demo/service.json", "exec-probes/service.json", "sidecar/service.json", "slow-start/service.json"}
	if !slices.Equal(matches, want) {
		t.Errorf("examples = %v, want %v (update README.md and this test together)", matches, want)
	}
	for _, m := range matches {
		load(t, filepath.Dir(m))
	}
}

func TestDemo(t *testing.T) {
	s := load(t, "demo")
	if s.Metadata.Instance != 3 {
		t.Errorf("instance = %d, want 3", s.Metadata.Instance)
	}
	c := s.Containers[0]
	checks := []struct {
		name   string
		p      *service.Probe
		path   string
		period int
		fail   int
	}{
		{"startup", c.StartupCheck, "/startup", 1, 30},
		{"readiness", c.HealthCheck, "/ready", 1, 3},
		{"liveness", c.LivenessCheck, "/health", 1, 3},
	}
	for _, ck := range checks {
		if ck.p == nil || ck.p.HTTPGet == nil {
			t.Errorf("%s: want an http_get probe", ck.name)
			continue
		}
		if ck.p.HTTPGet.Path != ck.path || ck.p.HTTPGet.Port != 8000 || ck.p.PeriodSeconds != ck.period || ck.p.FailureThreshold != ck.fail {
			t.Errorf("%s = %+v %+v, want GET %s:8000 every %ds, failure threshold %d", ck.name, ck.p, ck.p.HTTPGet, ck.path, ck.period, ck.fail)
		}
	}
}

func TestExecProbes(t *testing.T) {
	c := load(t, "exec-probes").Containers[0]
	if c.LivenessCheck == nil || c.LivenessCheck.Exec == nil || !slices.Equal(c.LivenessCheck.Exec.Command, []string{"/app", "probe", "live"}) {
		t.Errorf("liveness = %+v, want exec /app probe live", c.LivenessCheck)
	}
	if c.HealthCheck == nil || c.HealthCheck.TCPSocket == nil || c.HealthCheck.TCPSocket.Port != 8000 {
		t.Errorf("readiness = %+v, want tcp_socket 8000", c.HealthCheck)
	}
}

// The sidecar's first container is ready only when it reaches the second
// over 127.0.0.1: the proof that an instance's containers share a netns.
func TestSidecar(t *testing.T) {
	s := load(t, "sidecar")
	if len(s.Containers) != 2 || s.Containers[0].Port != 8000 || s.Containers[1].Port != 8001 {
		t.Fatalf("containers = %+v, want the app on 8000 and a second copy on 8001", s.Containers)
	}
	rc := s.Containers[0].HealthCheck
	if rc == nil || rc.Exec == nil || !slices.Contains(rc.Exec.Command, "http://127.0.0.1:8001/ready") {
		t.Errorf("first container's readiness = %+v, want an exec probe reaching 127.0.0.1:8001", rc)
	}
	if !slices.Contains(s.Containers[1].Env, service.EnvVar{Name: "LISTENING_PORT", Value: "8001"}) {
		t.Errorf("second container env = %v, want LISTENING_PORT=8001", s.Containers[1].Env)
	}
}

func TestSlowStart(t *testing.T) {
	c := load(t, "slow-start").Containers[0]
	if !slices.Contains(c.Env, service.EnvVar{Name: "START_DELAY", Value: "8s"}) {
		t.Errorf("env = %v, want START_DELAY=8s", c.Env)
	}
	sc := c.StartupCheck
	if sc == nil || sc.HTTPGet == nil || sc.HTTPGet.Path != "/startup" {
		t.Fatalf("startup = %+v, want http_get /startup", sc)
	}
	// The startup probe must allow longer than the delay, or the
	// container is killed before it ever starts.
	if budget := sc.PeriodSeconds * sc.FailureThreshold; budget <= 8 {
		t.Errorf("startup budget %ds (period x failure threshold) is not longer than START_DELAY 8s", budget)
	}
}
