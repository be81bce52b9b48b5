package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A user running `ip netns add` while easlocal's pods exist must not
// strand them: iproute2 turns the namespace directory into a mount point
// the first time, which used to pin easlocal's namespaces twice, hide
// them from the CNI plugins and make every removal fail with EBUSY.
func TestPodsSurviveIPNetnsAdd(t *testing.T) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal("ip (iproute2) is needed for this test: scripts/install-deps.sh installs it")
	}
	rt := needRuntime(t)
	svc := testService(t, rt, "ipnetns")
	pod := mustPod(t, rt, svc, svc+"-0")

	other := fmt.Sprintf("easlocal-test-ipnetns-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", other).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(ip, "netns", "del", other).Run() })

	// A second pod after it, and both removed cleanly.
	pod2 := mustPod(t, rt, svc, svc+"-1")
	for _, p := range []*Pod{pod, pod2} {
		if err := rt.RemovePod(testCtx(t), p); err != nil {
			t.Errorf("RemovePod %s after ip netns add: %v", p.Instance, err)
		}
		if _, err := os.Stat(filepath.Join(NetNSDir, NetNSName(svc, p.Instance))); !os.IsNotExist(err) {
			t.Errorf("namespace of %s still there after RemovePod (stat: %v)", p.Instance, err)
		}
	}
}
