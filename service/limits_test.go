package service

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckInstances(t *testing.T) {
	if err := CheckInstances(DefaultMaxInstances, 0, false); err != nil {
		t.Errorf("the default limit itself: %v", err)
	}
	err := CheckInstances(100000, 0, false)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Errors[0].Path != "metadata.instance" || !strings.Contains(err.Error(), "--max-instances") {
		t.Errorf("metadata.instance over the limit: %v", err)
	}
	err = CheckInstances(65, 64, true)
	if err == nil || errors.As(err, &ve) || !strings.HasPrefix(err.Error(), "--instances: ") || !strings.Contains(err.Error(), "--max-instances") {
		t.Errorf("--instances over the limit: %v", err)
	}
	if err := CheckInstances(1000, 1000, true); err != nil {
		t.Errorf("a raised limit: %v", err)
	}
}

func TestMountPathProblem(t *testing.T) {
	for p, ok := range map[string]bool{
		"/models": true, "/models/": true, "/dev/shm": true, "/data/eas": true,
		"": false, "models": false, "/": false, "/..": false, "/a/../b": false, "/a//b": false, "/a/./b": false,
		"/proc": false, "/proc/1": false, "/sys/fs": false, "/dev": false, "/dev/shm/x": false, "/dev/null": false,
		"/etc/hosts": false, "/etc/hostname": false, "/procfs": true, "/device": true,
	} {
		if got := MountPathProblem(p) == ""; got != ok {
			t.Errorf("MountPathProblem(%q) = %q, want ok=%v", p, MountPathProblem(p), ok)
		}
	}
}

func TestGracePeriod(t *testing.T) {
	s, _, err := Parse([]byte(`{"metadata": {"name": "grace", "eas.termination_grace_period": 45}, "containers": [{"image": "app"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Metadata.GracePeriod(); got != 45*time.Second {
		t.Errorf("GracePeriod = %s, want 45s", got)
	}
	if got := (&Metadata{}).GracePeriod(); got != DefaultTerminationGracePeriod {
		t.Errorf("default GracePeriod = %s", got)
	}
}
