package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// Three instances of one service get three distinct IPs from the subnet,
// and the host reaches each one's serving port at ip:port; teardown
// leaves nothing of the service behind.
func TestThreeInstancesReachableFromHost(t *testing.T) {
	t.Parallel()
	rt := needRuntime(t)
	svc := testService(t, rt, "three")
	ctx := testCtx(t)

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
