package runtime

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Unit tests of the storage mounts of the OCI spec: no root, no containerd.

func TestStorageMountsSpec(t *testing.T) {
	pod := t.TempDir()
	r := &Runtime{}
	got, err := r.storageMounts(pod, ContainerConfig{Name: "c0", ShmSize: 2 << 30, Mounts: []Mount{
		{ContainerPath: "/ram", Kind: TmpfsMount, Size: 1 << 30},
		{ContainerPath: "/ram0", Kind: TmpfsMount},
		{ContainerPath: "/scratch/a", Kind: EmptyDirMount, ReadOnly: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []specs.Mount{
		{Type: "tmpfs", Source: "tmpfs", Destination: "/ram", Options: []string{"nosuid", "nodev", "mode=1777", "rw", "size=1073741824"}},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/ram0", Options: []string{"nosuid", "nodev", "mode=1777", "rw"}},
		{Type: "bind", Source: filepath.Join(pod, "volumes", "scratch%2Fa"), Destination: "/scratch/a", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/dev/shm", Options: []string{"nosuid", "nodev", "mode=1777", "rw", "size=2147483648"}},
	}
	if !slices.EqualFunc(got, want, mountEqual) {
		t.Errorf("mounts\n got %+v\nwant %+v", got, want)
	}
	// The empty directory is the pod's, made for the container.
	if st, err := os.Stat(filepath.Join(pod, "volumes", "scratch%2Fa")); err != nil || !st.IsDir() {
		t.Errorf("empty_dir directory: %v", err)
	}

	// A tmpfs at /dev/shm (storage[].empty_dir with medium memory) wins
	// over ShmSize: one /dev/shm, of the storage entry's size.
	got, err = r.storageMounts(pod, ContainerConfig{ShmSize: 2 << 30, Mounts: []Mount{{ContainerPath: "/dev/shm", Kind: TmpfsMount, Size: 1 << 30}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Destination != "/dev/shm" || !slices.Contains(got[0].Options, "size=1073741824") {
		t.Errorf("shm: %+v", got)
	}

	if _, err := r.storageMounts(pod, ContainerConfig{Mounts: []Mount{{ContainerPath: "/x", Kind: TmpfsMount, Size: -1}}}); err == nil {
		t.Error("a negative tmpfs size was accepted")
	}
}

// containerd's default spec already mounts a 64 MB /dev/shm: ours
// replaces it instead of being stacked over it.
func TestWithMountsReplacesDefaultShm(t *testing.T) {
	s := &oci.Spec{Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"size=65536k"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
	}}
	shm := tmpfs("/dev/shm", 1<<30, "rw")
	if err := withMounts([]specs.Mount{shm})(context.Background(), nil, nil, s); err != nil {
		t.Fatal(err)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	if !slices.Equal(dests, []string{"/proc", "/sys", "/dev/shm"}) || !mountEqual(s.Mounts[2], shm) {
		t.Errorf("mounts after withMounts: %+v", s.Mounts)
	}
}

func mountEqual(a, b specs.Mount) bool {
	return a.Type == b.Type && a.Source == b.Source && a.Destination == b.Destination && slices.Equal(a.Options, b.Options)
}
