package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Three instances of one service get three distinct IPs from the subnet,
// and the host reaches each one's serving port at ip:port; teardown
// leaves nothing of the service behind.
func TestThreeInstancesReachableFromHost(t *testing.T) {
	rt, svc, ctx := parallelService(t, "three")

	seen := map[netip.Addr]string{}
	var pods []*Pod
	for i := range 3 {
		pod := mustPod(t, rt, svc, fmt.Sprintf("%s-%d", svc, i))
		pods = append(pods, pod)
		if !rt.Config().Subnet.Contains(pod.IP) {
			t.Errorf("%s: IP %s outside subnet %s", pod.Instance, pod.IP, rt.Config().Subnet)
		}
		if other, dup := seen[pod.IP]; dup {
			t.Fatalf("%s and %s share IP %s", pod.Instance, other, pod.IP)
		}
		seen[pod.IP] = pod.Instance
		if _, err := os.Stat(pod.NetNS); err != nil || !strings.HasPrefix(pod.NetNS, NetNSDir+"/easlocal-") {
			t.Errorf("%s: netns %q: %v", pod.Instance, pod.NetNS, err)
		}
		mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	}
	for _, pod := range pods {
		body := waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
		if got := instanceOf(t, body); got != pod.Instance {
			t.Errorf("GET %s answered for %q, want %q", pod.IP, got, pod.Instance)
		}
	}

	left, err := rt.Leftovers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Containers) != 3 || len(left.NetNS) != 3 || len(left.Leases) != 3 || len(left.Snapshots) != 3 {
		t.Errorf("while running: leftovers %+v, want 3 containers, netns, leases, snapshots", left)
	}
	for _, pod := range pods {
		if err := rt.RemovePod(ctx, pod); err != nil {
			t.Fatalf("RemovePod %s: %v", pod.Instance, err)
		}
		if err := rt.RemovePod(ctx, pod); err != nil {
			t.Fatalf("RemovePod %s twice: %v", pod.Instance, err)
		}
	}
	assertNothingLeft(t, rt, svc)
}

func assertNothingLeft(t testing.TB, rt *Runtime, svc string) {
	t.Helper()
	left, err := rt.Leftovers(context.Background(), svc)
	if err != nil {
		t.Fatal(err)
	}
	if !left.Empty() {
		t.Errorf("leftovers of %s: %+v", svc, left)
	}
}

// Pods set up at once on a bridge that does not exist yet all get
// distinct addresses from the subnet, and tearing them all down at once
// releases every lease: the CNI plugins are safe to call concurrently.
func TestConcurrentPodsOnNewBridge(t *testing.T) {
	t.Parallel()
	needRuntime(t)
	pid := os.Getpid()
	cfg := Config{
		StateDir: t.TempDir(),
		Bridge:   "easlc" + strconv.Itoa(pid%100000),
		Subnet:   netip.MustParsePrefix(fmt.Sprintf("10.216.%d.0/24", pid%250)),
	}
	rt, err := New(testCtx(t), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rt.Close()
		exec.Command("ip", "link", "del", cfg.Bridge).Run()
		os.RemoveAll(rt.Config().LeaseDir())
	})
	svc := testService(t, rt, "concurrent")
	ctx := testCtx(t)

	const n = 16
	pods := make([]*Pod, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pods[i], errs[i] = rt.CreatePod(ctx, PodConfig{Service: svc, Instance: fmt.Sprintf("%s-%d", svc, i)})
		})
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("pod %d: %v", i, err)
			continue
		}
		if !cfg.Subnet.Contains(pods[i].IP) {
			t.Errorf("pod %d: IP %s outside %s", i, pods[i].IP, cfg.Subnet)
		}
		if j, dup := seen[pods[i].IP]; dup {
			t.Errorf("pods %d and %d share IP %s", j, i, pods[i].IP)
		}
		seen[pods[i].IP] = i
	}
	if left, err := rt.Leftovers(ctx, svc); err != nil || len(left.Leases) != len(seen) {
		t.Errorf("while running: %d leases (%v), want %d", len(left.Leases), err, len(seen))
	}
	for i := range n {
		wg.Go(func() {
			if err := rt.RemovePod(ctx, pods[i]); err != nil {
				t.Errorf("RemovePod %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	assertNothingLeft(t, rt, svc)
}
