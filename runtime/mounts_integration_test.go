package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shmLine is the /proc/mounts line of a path inside the container.
func mountLine(t *testing.T, rt *Runtime, c *Container, dest string) string {
	t.Helper()
	out := mustExec(t, rt, c, "/bin/grep", " "+dest+" ", "/proc/mounts")
	lines := strings.Split(out, "\n")
	return lines[len(lines)-1] // the last mount at dest is the visible one
}

// The storage kinds, seen from inside real containers: a tmpfs of the
// given size, /dev/shm resized, and an empty directory the pod's
// containers share and RemovePod removes (with the service's FIFO
// directory, this being its only pod).
func TestStorageMounts(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "storage")

	c0 := appContainer(pod, "c0", 8000)
	c0.ShmSize = 96 << 20
	c0.Mounts = []Mount{
		{ContainerPath: "/ram", Kind: TmpfsMount, Size: 32 << 20},
		{ContainerPath: "/scratch", Kind: EmptyDirMount},
	}
	a := mustStart(t, rt, pod, c0)
	c1 := appContainer(pod, "c1", 8001)
	c1.Mounts = []Mount{{ContainerPath: "/dev/shm", Kind: TmpfsMount, Size: 48 << 20}, {ContainerPath: "/scratch", Kind: EmptyDirMount}}
	b := mustStart(t, rt, pod, c1)

	for _, tc := range []struct {
		c          *Container
		dest, size string
	}{{a, "/ram", "size=32768k"}, {a, "/dev/shm", "size=98304k"}, {b, "/dev/shm", "size=49152k"}} {
		line := mountLine(t, rt, tc.c, tc.dest)
		if f := strings.Fields(line); len(f) < 4 || f[2] != "tmpfs" || !strings.Contains(f[3], tc.size) {
			t.Errorf("%s in %s: %q; want a tmpfs with %s", tc.dest, tc.c.Name, line, tc.size)
		}
	}
	// Only one /dev/shm: the default 64 MB one is replaced, not hidden.
	if out := mustExec(t, rt, a, "/bin/grep", "-c", " /dev/shm ", "/proc/mounts"); out != "1" {
		t.Errorf("/dev/shm is mounted %s times", out)
	}

	mustExec(t, rt, a, "/bin/sh", "-c", "echo shared > /scratch/f")
	if got := mustExec(t, rt, b, "/bin/cat", "/scratch/f"); got != "shared" {
		t.Errorf("the empty_dir is not shared by the pod's containers: %q", got)
	}
	dir := filepath.Join(rt.podPath(svc, pod.Instance), "volumes", "scratch")
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Fatalf("the empty_dir is not in the pod's directory: %v", err)
	}
	if err := rt.RemovePod(testCtx(t), pod); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the empty_dir outlived its pod: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rt.cfg.fifoDir(), svc)); !os.IsNotExist(err) {
		t.Errorf("the service's FIFO directory outlived its only pod: %v", err)
	}
}
