package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/opencontainers/image-spec/identity"
)

// newTestRuntime is a second Runtime on the shared containerd and bridge,
// with cfg's settings and (unless cfg names one) a state directory of its
// own. It is closed at the end of the test.
func newTestRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	shared := needRuntime(t)
	cfg.Address = shared.Address()
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	rt, err := New(testCtx(t), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// A container printing as fast as it can (1.2 MB here) cannot grow its
// log past the cap: the log and the .prev it rotated into both stay
// within it, and the log ends with the last line printed.
func TestLogCapHoldsForFastPrinter(t *testing.T) {
	t.Parallel()
	const capBytes = 64 << 10
	rt := newTestRuntime(t, Config{LogMaxSize: capBytes})
	svc := testService(t, rt, "logcap")
	pod := mustPod(t, rt, svc, svc+"-0")
	c := mustStart(t, rt, pod, ContainerConfig{Name: "c0", Image: testImage, Args: []string{"/bin/sh", "-c",
		`i=0; while [ $i -lt 20000 ]; do echo "line $i: a service that prints as fast as it can"; i=$((i+1)); done; echo last-line`}})
	if st := waitExit(t, rt, c); st.Code != 0 {
		t.Fatalf("printer exited %+v", st)
	}
	stopNow(t, rt, c) // drains the output into the log
	for _, p := range []string{c.LogPath, c.LogPath + ".prev"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > capBytes {
			t.Errorf("%s is %d bytes, over the cap of %d", p, fi.Size(), capBytes)
		}
	}
	if b, _ := os.ReadFile(c.LogPath); !strings.HasSuffix(string(b), "last-line\n") {
		t.Errorf("the log does not end with the last line printed: ...%q", b[max(0, len(b)-100):])
	}
}

// Every container has a pids limit: a shell forking in a loop fails to
// fork at the limit, and the cgroup never holds more. The default
// limit applies where none is configured; no_new_privileges and the
// seccomp filter are on.
func TestPidsLimitHoldsForkLoop(t *testing.T) {
	t.Parallel()
	const limit = 32
	rt := newTestRuntime(t, Config{PidsLimit: limit})
	svc := testService(t, rt, "pids")
	pod := mustPod(t, rt, svc, svc+"-0")
	out := &testutil.SyncBuffer{}
	c := mustStart(t, rt, pod, ContainerConfig{Name: "c0", Image: testImage, Output: out, Args: []string{"/bin/sh", "-c",
		`i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); done; echo forked-all; sleep 300`}})
	testutil.WaitFor(t, 30*time.Second, 50*time.Millisecond, "the fork loop failing or finishing", func() bool {
		return strings.Contains(out.String(), "can't fork") || strings.Contains(out.String(), "forked-all")
	})
	if got := readCgroup(t, "pids", c.st.cgroup, "pids.max", "pids.max"); got != "32" {
		t.Errorf("pids.max = %s, want %d", got, limit)
	}
	if n := len(strings.Fields(readCgroup(t, "pids", c.st.cgroup, "tasks", "cgroup.threads"))); n > limit {
		t.Errorf("the container holds %d tasks, over its limit of %d", n, limit)
	}
	if strings.Contains(out.String(), "forked-all") {
		t.Errorf("200 background processes were forked under a limit of %d: %q", limit, out.String())
	}
	stopNow(t, rt, c)

	shared := needRuntime(t)
	svc2 := testService(t, shared, "pidsdefault")
	pod2 := mustPod(t, shared, svc2, svc2+"-0")
	c2 := mustStart(t, shared, pod2, ContainerConfig{Name: "c0", Image: testImage, Args: []string{"sleep", "300"}})
	if got := readCgroup(t, "pids", c2.st.cgroup, "pids.max", "pids.max"); got != "4096" {
		t.Errorf("default pids.max = %s, want %d", got, DefaultPidsLimit)
	}
	status := mustExec(t, shared, c2, "grep", "-E", "^(NoNewPrivs|Seccomp):", "/proc/self/status")
	if !strings.Contains(status, "NoNewPrivs:\t1") || !strings.Contains(status, "Seccomp:\t2") {
		t.Errorf("no_new_privileges or seccomp off: %q", status)
	}
	stopNow(t, shared, c2)
}

// An environment too large for execve fails StartContainer with that
// reason (runc would start the task and exit 1), and leaves nothing.
func TestEnvTooLargeFailsWithReason(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "e2big")
	_, err := rt.StartContainer(testCtx(t), pod, ContainerConfig{Name: "c0", Image: testImage,
		Env: []string{"MODEL_CONFIG=" + strings.Repeat("x", 200<<10)}})
	if err == nil || !strings.Contains(err.Error(), "argument list too long (E2BIG)") || !strings.Contains(err.Error(), "MODEL_CONFIG") {
		t.Fatalf("StartContainer with a 200 KiB env entry: %v; want the E2BIG reason naming MODEL_CONFIG", err)
	}
	if left, _ := rt.Leftovers(testCtx(t), svc); len(left.Containers)+len(left.Snapshots) > 0 {
		t.Errorf("the refused container left %+v", left)
	}
}

// Two runtimes with different state directories on one bridge and subnet
// share one lease table: they never hand out the same IP.
func TestIPsUniqueAcrossStateDirs(t *testing.T) {
	t.Parallel()
	a := newTestRuntime(t, Config{})
	b := newTestRuntime(t, Config{})
	if a.Config().LeaseDir() != b.Config().LeaseDir() {
		t.Errorf("lease dirs differ: %s, %s", a.Config().LeaseDir(), b.Config().LeaseDir())
	}
	svcA := testService(t, a, "ipa")
	svcB := testService(t, b, "ipb")
	seen := map[string]string{}
	for i := range 2 {
		for _, x := range []struct {
			rt  *Runtime
			svc string
		}{{a, svcA}, {b, svcB}} {
			pod := mustPod(t, x.rt, x.svc, x.svc+"-"+string(rune('0'+i)))
			if other, dup := seen[pod.IP.String()]; dup {
				t.Errorf("%s got %s, already given to %s", pod.Instance, pod.IP, other)
			}
			seen[pod.IP.String()] = pod.Instance
		}
	}
}

// Creation checks its context: a cancelled CreatePod or StartContainer
// touches nothing (not even the previous run's logs) and returns the
// context's error.
func TestCreationStopsWhenCancelled(t *testing.T) {
	rt, svc, _ := parallelService(t, "cancel")
	inst := svc + "-0"
	oldLog := rt.Config().LogPath(svc, inst, "c0")
	os.MkdirAll(filepath.Dir(oldLog), 0o700)
	os.WriteFile(oldLog, []byte("previous run\n"), 0o600)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(oldLog)) })

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rt.CreatePod(cancelled, PodConfig{Service: svc, Instance: inst}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreatePod with a cancelled context: %v", err)
	}
	if b, err := os.ReadFile(oldLog); err != nil || string(b) != "previous run\n" {
		t.Errorf("the cancelled CreatePod rotated the previous log: %q, %v", b, err)
	}
	assertNothingLeft(t, rt, svc)

	pod := mustPod(t, rt, svc, svc+"-1")
	if _, err := rt.StartContainer(cancelled, pod, appContainer(pod, "c0", 8000)); !errors.Is(err, context.Canceled) {
		t.Errorf("StartContainer with a cancelled context: %v", err)
	}
	if left, _ := rt.Leftovers(testCtx(t), svc); len(left.Containers)+len(left.Snapshots) > 0 {
		t.Errorf("the cancelled StartContainer left %+v", left)
	}
	if _, err := os.Stat(rt.Config().LogPath(svc, pod.Instance, "c0")); err == nil {
		t.Errorf("the cancelled StartContainer opened a log")
	}
}

// An easlocal killed in the middle of creating instances leaves a pod
// record without an IP, a namespace with a lease, a container without a
// task and a snapshot without a container. Leftovers lists each and one
// Cleanup removes them all.
func TestCleanupAfterAbandonedCreation(t *testing.T) {
	rt, svc, ctx := parallelService(t, "abandon")
	crashed := newTestRuntime(t, Config{StateDir: rt.Config().StateDir})

	// Instance 0: record and namespace written, CNI attached, the record
	// not yet updated with the IP.
	inst := svc + "-0"
	rec := podRecord{Service: svc, Instance: inst, CNIID: NetNSName(svc, inst), NetNS: filepath.Join(NetNSDir, NetNSName(svc, inst))}
	dir := crashed.podPath(svc, inst)
	if err := privateDir(crashed.cfg.podDir(), dir); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	if err := createNetNS(rec.NetNS); err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.cniSetup(nsCtx(ctx), rec.CNIID, rec.NetNS); err != nil {
		t.Fatal(err)
	}
	// Instance 1: a container created, its task never.
	pod := mustPod(t, crashed, svc, svc+"-1")
	img, err := crashed.client.GetImage(nsCtx(ctx), testImage)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{LabelService: svc, LabelInstance: pod.Instance, LabelContainer: "c0"}
	id := containerID(svc, pod.Instance, "c0")
	if _, err := crashed.client.NewContainer(nsCtx(ctx), id, client.WithImage(img), client.WithSnapshotter(Snapshotter),
		client.WithNewSnapshot(id, img, snapshots.WithLabels(labels)), client.WithNewSpec(), client.WithContainerLabels(labels)); err != nil {
		t.Fatal(err)
	}
	// And a snapshot whose container was never created. Its creation
	// ran under a lease, as NewContainer's does: without one containerd's
	// garbage collector, which any deletion on the daemon sets off, could
	// take the snapshot before it is counted.
	parent, err := img.RootFS(nsCtx(ctx))
	if err != nil {
		t.Fatal(err)
	}
	lctx, release, err := crashed.client.WithLease(nsCtx(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release(nsCtx(context.Background())) })
	sn := crashed.client.SnapshotService(Snapshotter)
	if _, err := sn.Prepare(lctx, svc+".orphan", identity.ChainID(parent).String(), snapshots.WithLabels(labels)); err != nil {
		t.Fatal(err)
	}
	crashed.Close()

	left, err := rt.Leftovers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Pods) != 2 || len(left.NetNS) != 2 || len(left.Leases) != 2 || len(left.Containers) != 1 || len(left.Snapshots) != 2 {
		t.Fatalf("Leftovers = %+v; want 2 pods, netns and leases, 1 container, 2 snapshots", left)
	}
	if err := rt.Cleanup(ctx, svc); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertNothingLeft(t, rt, svc)
}

// Everything the runtime writes that holds logs or state is 0700/0600,
// including directories and logs that an older easlocal left looser.
func TestStateFilesArePrivate(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	os.Chmod(state, 0o755)
	cfg := Config{StateDir: state}
	os.MkdirAll(filepath.Join(state, "logs"), 0o755)
	os.MkdirAll(filepath.Join(state, "cni"), 0o755)
	os.WriteFile(filepath.Join(state, "cni", "easlocal.conflist"), nil, 0o644)
	rt := newTestRuntime(t, cfg)
	svc := testService(t, rt, "modes")
	inst := svc + "-0"
	old := rt.Config().LogPath(svc, inst, "c0")
	os.MkdirAll(filepath.Dir(old), 0o755)
	os.WriteFile(old, []byte("an older run\n"), 0o644)
	pod := mustPod(t, rt, svc, inst)
	c := mustStart(t, rt, pod, ContainerConfig{Name: "c0", Image: testImage, Args: []string{"/bin/sh", "-c", "echo hello"}})
	waitExit(t, rt, c)

	checked := 0
	filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name := d.Name(); name == "hosts" || name == "hostname" {
			return nil // read by the container's user: 0644
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", p, fi.Mode().Perm(), want)
		}
		checked++
		return nil
	})
	for _, p := range []string{c.LogPath, c.LogPath + ".prev", filepath.Join(rt.podPath(svc, inst), "pod.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("expected %s: %v", p, err)
		}
	}
	for _, d := range []string{rt.Config().LeaseDir(), rt.cfg.fifoDir(), rt.cfg.RunDir} {
		if fi, err := os.Stat(d); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v, want 0700", d, fi.Mode().Perm())
		}
	}
	stopNow(t, rt, c)
	t.Logf("%d paths checked", checked)
}

// A memory or CPU limit that would wrap is refused before anything is
// created, instead of running with another limit (2^44+1 MB was 1 MiB).
func TestOverflowingLimitsRefused(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "limits")
	for _, cfg := range []ContainerConfig{
		{Name: "mem", Image: testImage, Memory: 1<<44 + 1},
		{Name: "cpu", Image: testImage, CPU: 1<<53 - 1},
	} {
		if c, err := rt.StartContainer(testCtx(t), pod, cfg); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("StartContainer(memory %d, cpu %d) = %v; want a refusal naming the limit", cfg.Memory, cfg.CPU, err)
			if c != nil {
				stopNow(t, rt, c)
			}
		}
	}
	if left, _ := rt.Leftovers(testCtx(t), svc); len(left.Containers)+len(left.Snapshots) > 0 {
		t.Errorf("refused containers left %+v", left)
	}
}

// Cancelled in the middle of creating instances (whichever step it hits),
// creation stops at once and leaves exactly the pods it returned: no
// half-created namespace, lease or record.
func TestCancelDuringCreationLeavesOnlyCreatedPods(t *testing.T) {
	rt, svc, _ := parallelService(t, "midcancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var created []*Pod
	var err error
	for i := 0; i < 200; i++ {
		if i == 2 {
			// Cancelled from elsewhere while the next pods are being
			// created, as Ctrl-C is.
			go cancel()
		}
		var pod *Pod
		pod, err = rt.CreatePod(ctx, PodConfig{Service: svc, Instance: fmt.Sprintf("%s-%d", svc, i)})
		if err != nil {
			break
		}
		created = append(created, pod)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("creation ended with %v after %d pods; want context.Canceled", err, len(created))
	}
	left, lerr := rt.Leftovers(testCtx(t), svc)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if n := len(created); len(left.Pods) != n || len(left.NetNS) != n || len(left.Leases) != n {
		t.Errorf("%d pods created, leftovers %+v: a cancelled creation left something", n, left)
	}
}

// A container start cancelled at any moment (Ctrl-C during a restart)
// either returns the container or leaves nothing in containerd: no
// container or snapshot that only a second cleanup would find. The
// cancellation lands at a different point of the start each round.
func TestCancelDuringStartLeavesNothing(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "startcancel")
	for i := range 24 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(i)*2*time.Millisecond, cancel)
		c, err := rt.StartContainer(ctx, pod, ContainerConfig{Name: "c0", Image: testImage, Args: []string{"/bin/sh", "-c", "sleep 60"}})
		cancel()
		if err == nil {
			stopNow(t, rt, c) // deletes it
		}
		left, lerr := rt.Leftovers(testCtx(t), svc)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if len(left.Containers) != 0 || len(left.Snapshots) != 0 {
			t.Fatalf("round %d (start err %v): containerd still holds %+v", i, err, left)
		}
	}
}
