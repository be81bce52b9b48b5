package service

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Args must split like a shell (quotes, backslashes) and never run a shell
// for command, always one for script.
func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		c    Container
		want []string
	}{
		{Container{}, nil},
		{Container{Command: "/data/eas/ENV/bin/python /data/eas/app1.py"}, []string{"/data/eas/ENV/bin/python", "/data/eas/app1.py"}},
		{Container{Command: `python app.py --name "my model" --x 'a b' c\ d`}, []string{"python", "app.py", "--name", "my model", "--x", "a b", "c d"}},
		{Container{Command: "  sleep\t10 \n"}, []string{"sleep", "10"}},
		{Container{Script: "cd /app && exec ./server"}, []string{"/bin/sh", "-c", "cd /app && exec ./server"}},
	} {
		got, err := tc.c.Args()
		if err != nil {
			t.Errorf("%+v: %v", tc.c, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: Args = %q, want %q", tc.c, got, tc.want)
		}
	}
	for _, c := range []Container{{Command: `python "unclosed`}, {Command: "   "}, {Command: "a", Script: "b"}} {
		if got, err := c.Args(); err == nil {
			t.Errorf("%+v: Args = %q, want an error", c, got)
		}
	}
}

// quoteWords is what the summary and exec descriptions print: it must
// split back into the same words.
func TestQuoteWordsRoundTrip(t *testing.T) {
	for _, words := range [][]string{
		{"cat", "/tmp/healthy"},
		{"sh", "-c", "echo 'hi' && exit 1"},
		{"", "a b", `back\slash`, "$HOME", "it's"},
	} {
		c := Container{Command: quoteWords(words)}
		got, err := c.Args()
		if err != nil || !reflect.DeepEqual(got, words) {
			t.Errorf("quoteWords(%q) = %q, splits back to %q (%v)", words, c.Command, got, err)
		}
	}
}

func TestInstanceTypeResources(t *testing.T) {
	for _, tc := range []struct {
		in       string
		cpu, mem int
		ok       bool
	}{
		{"ml.gu7i.c16m60.1-gu30", 16, 60000, true},
		{"ml.c6.c8m32", 8, 32000, true},
		{"ecs.c7.xlarge", 0, 0, false},
		{"ecs.gn6i-c4g1.xlarge", 0, 0, false},
		{"ml.x.c0m8", 0, 0, false},
		{"", 0, 0, false},
	} {
		cpu, mem, ok := InstanceTypeResources(tc.in)
		if cpu != tc.cpu || mem != tc.mem || ok != tc.ok {
			t.Errorf("InstanceTypeResources(%q) = %d, %d, %v; want %d, %d, %v", tc.in, cpu, mem, ok, tc.cpu, tc.mem, tc.ok)
		}
	}
}

// The probe description is the line validate prints; its wording is part
// of the CLI contract given in the issue.
func TestDescribe(t *testing.T) {
	p := &Probe{HTTPGet: &HTTPGetAction{Path: "/health", Port: 8000}, PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	if got, want := p.Describe(Liveness), "http_get :8000/health every 10s, timeout 1s, restart after 1 failure, first check at 0s"; got != want {
		t.Errorf("liveness:\n got %s\nwant %s", got, want)
	}
	p.FailureThreshold = 3
	if got, want := p.Describe(Readiness), "http_get :8000/health every 10s, timeout 1s, not ready after 3 failures, ready after 1 success, first check at 0s"; got != want {
		t.Errorf("readiness:\n got %s\nwant %s", got, want)
	}
	if got := p.Describe(Startup); !strings.Contains(got, "restart after 3 failures, gates liveness and readiness") {
		t.Errorf("startup: %s", got)
	}
	for _, tc := range []struct {
		p    Probe
		want string
	}{
		{Probe{HTTPGet: &HTTPGetAction{}}, "http_get"},
		{Probe{TCPSocket: &TCPSocketAction{}}, "tcp_socket"},
		{Probe{Exec: &ExecAction{}}, "exec"},
		{Probe{}, ""},
	} {
		if got := tc.p.Method(); got != tc.want {
			t.Errorf("Method() = %q, want %q", got, tc.want)
		}
	}
}

// Parse must fill every effective value the other packages rely on.
func TestParseFillsDefaults(t *testing.T) {
	s, _, err := Parse([]byte(`{"metadata": {"name": "svc"}, "containers": [{"image": "app", "port": 9000,
		"health_check": {"http_get": {}}, "liveness_check": {"tcp_socket": {}}, "startup_check": {"exec": {"command": ["true"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Containers[0]
	if s.Metadata.Instance != 1 || c.Port != 9000 {
		t.Errorf("instance %d, port %d; want 1, 9000", s.Metadata.Instance, c.Port)
	}
	if c.HealthCheck.HTTPGet.Path != "/" || c.HealthCheck.HTTPGet.Port != 9000 || c.LivenessCheck.TCPSocket.Port != 9000 {
		t.Errorf("probe targets not defaulted: %+v %+v", c.HealthCheck.HTTPGet, c.LivenessCheck.TCPSocket)
	}
	want := map[ProbeKind][5]int{Readiness: {0, 10, 1, 1, 3}, Liveness: {0, 10, 1, 1, 1}, Startup: {0, 10, 1, 1, 1}}
	for kind, w := range want {
		p := c.Probe(kind)
		got := [5]int{p.InitialDelaySeconds, p.PeriodSeconds, p.TimeoutSeconds, p.SuccessThreshold, p.FailureThreshold}
		if got != w {
			t.Errorf("%s timings = %v, want %v", kind, got, w)
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "service.json")
	if err := os.WriteFile(path, []byte(`{"metadata": {"name": "svc"}, "containers": [{"image": "app"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err := Load(path)
	if err != nil || s.Metadata.Name != "svc" {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "cannot read the service file") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestLoadRefusesHugeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load of %d bytes: %v", MaxFileSize+1, err)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"image", "env", "command", "script", "port", "health_check", "liveness_check", "startup_check", "prepare"}
	for key, want := range map[string]string{
		"imgae": "image", "Image": "image", "livenessCheck": "liveness_check", "readinessProbe": "health_check",
		"commands": "command", "ports": "port", "xyz": "", "environment_variables": "", "en": "env",
	} {
		if got, _ := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
