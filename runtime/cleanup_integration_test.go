package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
)

// An easlocal killed with SIGKILL leaves running containers, snapshots,
// network namespaces and IP leases; Cleanup from a fresh Runtime finds
// them by label and name and removes every one.
func TestCleanupAfterCrash(t *testing.T) {
	rt, svc, ctx := parallelService(t, "crash")

	crashed, err := New(ctx, Config{}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for i := range 2 {
		pod := mustPod(t, crashed, svc, fmt.Sprintf("%s-%d", svc, i))
		ips = append(ips, pod.IP.String())
		mustStart(t, crashed, pod, appContainer(pod, "c0", 8000))
		mustStart(t, crashed, pod, appContainer(pod, "c1", 8001))
	}
	// A pod whose easlocal died between creating the namespace and
	// attaching it: only the record and the namespace exist.
	half := NetNSName(svc, svc+"-9")
	if err := createNetNS(filepath.Join(NetNSDir, half)); err != nil {
		t.Fatal(err)
	}
	// A namespace where earlier versions kept them.
	if err := createNetNS(filepath.Join(legacyNetNSDir, NetNSName(svc, svc+"-8"))); err != nil {
		t.Fatal(err)
	}
	crashed.Close() // no teardown: what SIGKILL leaves behind

	left, err := rt.Leftovers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Containers) != 4 || len(left.Snapshots) != 4 || len(left.NetNS) != 4 || len(left.Leases) != 2 || len(left.Pods) != 2 {
		t.Fatalf("before cleanup: %+v; want 4 containers and snapshots, 4 netns, 2 leases and pods", left)
	}

	fresh, err := New(ctx, Config{}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Cleanup(ctx, svc); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertNothingLeft(t, rt, svc)
	for _, ip := range ips {
		if _, err := os.Stat(filepath.Join(rt.Config().LeaseDir(), ip)); err == nil {
			t.Errorf("lease of %s still in %s", ip, rt.Config().LeaseDir())
		}
	}
	for _, dir := range netNSDirs {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), NetNSName(svc, "")) {
				t.Errorf("netns %s left in %s", e.Name(), dir)
			}
		}
	}
	// Cleanup of nothing is fine.
	if err := fresh.Cleanup(ctx, svc); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if err := fresh.Cleanup(ctx, "bad-name"); err == nil {
		t.Errorf("Cleanup accepted a service name with '-'")
	}
}

// A pull that cannot work fails fast with a sentence: here a registry on
// a closed loopback port (tests send no traffic off this machine).
func TestPullUnreachableRegistryFailsFast(t *testing.T) {
	t.Parallel()
	rt := needRuntime(t)
	ctx := testCtx(t)
	start := time.Now()
	var progress strings.Builder
	err := rt.EnsureImage(ctx, "127.0.0.1:1/easlocal/nothing:1", "", &progress)
	if err == nil {
		t.Fatal("pull from a closed port succeeded")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the failing pull took %s", took)
	}
	if !strings.Contains(err.Error(), "cannot reach registry 127.0.0.1:1") || !strings.Contains(err.Error(), "easlocal load") {
		t.Errorf("error %q does not say the registry is unreachable and what to do", err)
	}
	err = rt.EnsureImage(ctx, "127.0.0.1:1/easlocal/nothing:1", "not base64!", nil)
	if err == nil || !strings.Contains(err.Error(), "dockerAuth") {
		t.Errorf("bad dockerAuth: %v", err)
	}
	if err := rt.EnsureImage(ctx, "Not A Reference", "", nil); err == nil || !strings.Contains(err.Error(), "not a valid image reference") {
		t.Errorf("bad reference: %v", err)
	}
	// A present image is used as is, without contacting any registry.
	if err := rt.EnsureImage(ctx, testImage, "", nil); err != nil {
		t.Errorf("EnsureImage of the loaded image: %v", err)
	}
	// The short name resolves to the same image.
	if err := rt.EnsureImage(ctx, strings.TrimSuffix(testImage, ":latest"), "", nil); err != nil {
		t.Errorf("EnsureImage without tag: %v", err)
	}
}

// An OCI image layout archive loads too, keeps its full name, and runs.
func TestLoadOCILayout(t *testing.T) {
	rt, svc, ctx := parallelService(t, "oci")
	const ref = "easlocal.local/example-oci:test"
	names, err := buildAndLoad(ctx, rt, t.TempDir(), build.Options{Format: build.FormatOCI, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != ref {
		t.Fatalf("Load = %q, want [%s]", names, ref)
	}
	imgs, err := rt.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, img := range imgs {
		found = found || img.Name == ref && img.Size > 0
	}
	if !found {
		t.Errorf("Images() = %+v lacks %s", imgs, ref)
	}
	pod := mustPod(t, rt, svc, svc+"-0")
	c := mustStart(t, rt, pod, ContainerConfig{Name: "c0", Image: ref, Args: []string{"/app", "hostname"}})
	if st := waitExit(t, rt, c); st.Code != 0 {
		t.Errorf("container from the OCI image: %+v", st)
	}
	stopNow(t, rt, c)

	if _, err := rt.Load(ctx, strings.NewReader("not a tar")); err == nil {
		t.Errorf("Load of garbage succeeded")
	}
}

// BenchmarkStartInstance measures creating an instance (network
// namespace, CNI, IP) and starting its container, until the task runs;
// the "ms-to-serving" metric adds the wait for its port to answer.
func BenchmarkStartInstance(b *testing.B) {
	rt := needRuntime(b)
	svc := testService(b, rt, "bench")
	ctx := context.Background()
	var serving time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		pod, err := rt.CreatePod(ctx, PodConfig{Service: svc, Instance: fmt.Sprintf("%s-%d", svc, i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := rt.StartContainer(ctx, pod, appContainer(pod, "c0", 8000)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		waitHTTP(b, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
		serving += time.Since(start)
		if err := rt.RemovePod(ctx, pod); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		i++
	}
	b.ReportMetric(float64(serving.Milliseconds())/float64(i), "ms-to-serving")
}

// easlocal killed between creating a namespace's file and mounting the
// namespace on it leaves a plain file: Cleanup removes it and the pod
// instead of failing in the bridge plugin ("unknown FS magic").
func TestCleanupNamespaceFileNeverMounted(t *testing.T) {
	rt, svc, ctx := parallelService(t, "nsfile")
	inst := svc + "-0"
	name := NetNSName(svc, inst)
	rec := podRecord{Service: svc, Instance: inst, NetNS: filepath.Join(NetNSDir, name), CNIID: name}
	dir := rt.podPath(svc, inst)
	if err := privateDir(rt.cfg.podDir(), dir); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec.NetNS, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := rt.Cleanup(ctx, svc); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertNothingLeft(t, rt, svc)
}
