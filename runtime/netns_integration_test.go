package runtime

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// A pod's namespace has lo up, so its containers reach each other on
// 127.0.0.1 and ::1 (set up in-process, not by the loopback plugin).
func TestPodLoopbackUp(t *testing.T) {
	rt := needRuntime(t)
	svc := testService(t, rt, "lo")
	pod := mustPod(t, rt, svc, svc+"-0")

	errc := make(chan error, 1)
	go func() {
		// Left in the pod's namespace: Go discards a thread whose
		// goroutine exits locked.
		goruntime.LockOSThread()
		ns, err := os.Open(pod.NetNS)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- dialOwnListener("tcp4", "127.0.0.1:0", "tcp6", "[::1]:0")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("loopback in pod %s: %v", pod.Instance, err)
	}
}

// dialOwnListener listens on each (network, address) pair and connects to
// it, in the calling thread's network namespace.
func dialOwnListener(pairs ...string) error {
	for i := 0; i < len(pairs); i += 2 {
		ln, err := net.Listen(pairs[i], pairs[i+1])
		if err != nil {
			return fmt.Errorf("listen on %s: %w", pairs[i+1], err)
		}
		c, err := net.DialTimeout(pairs[i], ln.Addr().String(), 2*time.Second)
		ln.Close()
		if err != nil {
			return fmt.Errorf("connect to %s: %w", ln.Addr(), err)
		}
		c.Close()
	}
	return nil
}
