package scheduler

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// storage[].empty_dir reaches the runtime as the pod's own mounts (tmpfs
// for medium memory, of size_limit GB; a fresh directory otherwise),
// not as a host directory shared by every instance; metadata.shm_size
// becomes the /dev/shm size in bytes. No MountNotBound warning for them:
// nothing needs binding.
func TestEmptyDirAndShmSize(t *testing.T) {
	svc := testService(1)
	svc.Metadata.ShmSize = 2
	svc.Storage = []service.Storage{
		{MountPath: "/dev/shm", EmptyDir: &service.EmptyDir{Medium: "memory", SizeLimit: 1}},
		{MountPath: "/scratch", EmptyDir: &service.EmptyDir{}},
	}
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {
		h.rt.mu.Lock()
		cfg := h.rt.configs["demo-0/c0"]
		h.rt.mu.Unlock()
		mounts := map[string]runtime.Mount{}
		for _, m := range cfg.Mounts {
			mounts[m.ContainerPath] = m
		}
		if m := mounts["/dev/shm"]; m.Kind != runtime.TmpfsMount || m.Size != 1<<30 || m.HostPath != "" {
			t.Errorf("/dev/shm mount %+v, want a 1 GiB tmpfs", m)
		}
		if m := mounts["/scratch"]; m.Kind != runtime.EmptyDirMount || m.HostPath != "" {
			t.Errorf("/scratch mount %+v, want the pod's empty directory", m)
		}
		if cfg.ShmSize != 2<<30 {
			t.Errorf("ShmSize %d, want 2 GiB", cfg.ShmSize)
		}
		if h.hasEvent(events.MountUnbound, "/scratch") || h.hasEvent(events.MountUnbound, "/dev/shm") {
			t.Errorf("an empty_dir was reported unbound: %+v", h.events())
		}
	})
}

// Scale keeps to the local instance limit (--max-instances).
func TestScaleRespectsInstanceLimit(t *testing.T) {
	for _, tc := range []struct{ max, n int }{{0, service.DefaultMaxInstances + 1}, {3, 4}, {0, 100000}} {
		h := newHarness(t, Options{Service: testService(1), MaxInstances: tc.max})
		err := h.s.Scale(tc.n)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "--max-instances") {
			t.Errorf("scale to %d with --max-instances %d: %v, want an invalid-argument refusal naming --max-instances", tc.n, tc.max, err)
		}
	}
	h := newHarness(t, Options{Service: testService(1), MaxInstances: 100})
	if err := h.s.Scale(100); err != nil {
		t.Errorf("scale to a raised limit: %v", err)
	}
}

// `--mount PATH=DIR:ro` reaches the runtime as a read-only bind of DIR
// (the suffix is a mode, not part of the host path); `:rw` makes a
// readOnly entry writable; no suffix keeps the entry's readOnly.
func TestMountModeSuffix(t *testing.T) {
	svc := testService(1)
	svc.Storage = []service.Storage{{MountPath: "/a"}, {MountPath: "/b", ReadOnly: true}, {MountPath: "/c", ReadOnly: true}}
	p, err := planMounts(svc, map[string]string{"/a": "/srv/a:ro", "/b": "/srv/b:rw", "/c": "/srv/with:colon"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]runtime.Mount{
		"/a": {HostPath: "/srv/a", ContainerPath: "/a", ReadOnly: true},
		"/b": {HostPath: "/srv/b", ContainerPath: "/b", ReadOnly: false},
		"/c": {HostPath: "/srv/with:colon", ContainerPath: "/c", ReadOnly: true},
	}
	for _, m := range p.mounts {
		if w := want[m.ContainerPath]; m != w {
			t.Errorf("mount %s = %+v, want %+v", m.ContainerPath, m, w)
		}
	}
	if len(p.mounts) != len(want) {
		t.Errorf("%d mounts, want %d", len(p.mounts), len(want))
	}
}
