package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/internal/testutil"
)

// containerd killed while containers run and easlocal's private containerd
// started again by the Runtime itself: the containers keep running (same
// processes, output still logged), their Wait channels yield nothing, exec
// works again, the OOM stream is resubscribed. Killed a second time and
// kept down for a while: Exec fails with an error, and a container that
// dies during the outage is reported with its real status once the daemon
// is back; one killed after the restarts is noticed too.
//
// The test has its own private containerd (own state and run directories),
// bridge and subnet, so killing that daemon disturbs no other test.
func TestContainerdRestartKeepsContainers(t *testing.T) {
	needRuntime(t)
	cfg := isolatedConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rt, err := New(ctx, cfg, testLogger())
	if err != nil {
		t.Fatalf("New with its own private containerd: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	if !rt.private || rt.Address() != cfg.PrivateAddress() {
		t.Fatalf("runtime uses %s, want its own private containerd at %s", rt.Address(), cfg.PrivateAddress())
	}
	image := loadTestImage(t, ctx, rt)
	// Named after the process: netns names are host-wide.
	svc := "t_ctrdrestart" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() {
		if err := rt.Cleanup(context.Background(), svc); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	pod, err := rt.CreatePod(ctx, PodConfig{Service: svc, Instance: svc + "-0"})
	if err != nil {
		t.Fatal(err)
	}
	app := appContainer(pod, "app", 8000)
	app.Image = image
	appC, err := rt.StartContainer(ctx, pod, app)
	if err != nil {
		t.Fatal(err)
	}
	ticker, err := rt.StartContainer(ctx, pod, ContainerConfig{Name: "ticker", Image: image,
		Args: []string{"/bin/sh", "-c", "while true; do echo tick; sleep 0.1; done"}})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:8000/", pod.IP)
	if got := instanceOf(t, waitHTTP(t, url, 20*time.Second)); got != pod.Instance {
		t.Fatalf("app answers as %q", got)
	}
	appExit, _ := rt.Wait(ctx, appC)
	tickExit, _ := rt.Wait(ctx, ticker)
	appPID, tickPID := appC.st.task.Pid(), ticker.st.task.Pid()
	subs := rt.oomSubs.Load()

	// Kill the daemon: the runtime notices through its waits and starts
	// a new one itself.
	pidFile := filepath.Join(cfg.RunDir, "containerd", "containerd.pid")
	oldPID := testutil.ReadPID(t, pidFile)
	killed := time.Now()
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill containerd %d: %v", oldPID, err)
	}
	testutil.WaitGone(t, oldPID)
	for rt.Reconnects() == 0 {
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("no reconnection within 20s of killing containerd (pid %d)", oldPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("containerd killed → reconnected to a new one in %s", time.Since(killed).Round(time.Millisecond))
	if newPID := testutil.ReadPID(t, pidFile); newPID == oldPID || syscall.Kill(newPID, 0) != nil {
		t.Errorf("no new private containerd runs (pid file says %d, the killed one was %d)", newPID, oldPID)
	}

	// The same processes run on, and containerd knows them again.
	for _, c := range []struct {
		ctr *Container
		pid uint32
	}{{appC, appPID}, {ticker, tickPID}} {
		task, err := c.ctr.st.container.Task(ctx, nil)
		if err != nil {
			t.Fatalf("containerd does not know %s after its restart: %v", c.ctr.Name, err)
		}
		st, err := task.Status(ctx)
		if err != nil || st.Status != "running" || task.Pid() != c.pid {
			t.Errorf("%s after the restart: status %v (%v), pid %d, want running as pid %d", c.ctr.Name, st.Status, err, task.Pid(), c.pid)
		}
	}
	if got := instanceOf(t, waitHTTP(t, url, 5*time.Second)); got != pod.Instance {
		t.Errorf("app answers as %q after the restart", got)
	}
	if got := mustExec(t, rt, appC, "cat", "/etc/hostname"); got != pod.Instance {
		t.Errorf("exec after the restart: hostname %q", got)
	}
	// Output still reaches the log: the FIFOs are ours and the shim's.
	size := logSize(t, ticker.LogPath)
	deadline := time.Now().Add(5 * time.Second)
	for logSize(t, ticker.LogPath) == size {
		if time.Now().After(deadline) {
			t.Fatal("the ticker's log stopped growing after the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The OOM event stream was subscribed again (at least once more).
	for rt.oomSubs.Load() == subs {
		if time.Now().After(deadline) {
			t.Fatal("the OOM event stream was not resubscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case st, ok := <-appExit:
		t.Fatalf("app's Wait yielded %+v (ok %v) while it runs", st, ok)
	case st, ok := <-tickExit:
		t.Fatalf("ticker's Wait yielded %+v (ok %v) while it runs", st, ok)
	default:
	}

	// A second outage, held until the test lets the runtime start the
	// daemon (it takes start.lock first): Exec fails with an error, not
	// a result, and a container that dies meanwhile is reported with its
	// real status once containerd is back.
	release := testutil.HoldLock(t, filepath.Join(cfg.RunDir, "containerd", "start.lock"))
	second := testutil.ReadPID(t, pidFile)
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatalf("kill containerd %d: %v", second, err)
	}
	testutil.WaitGone(t, second)
	if res, err := rt.Exec(ctx, appC, []string{"true"}, time.Second); err == nil {
		t.Errorf("exec while containerd is down returned %+v and no error", res)
	}
	if err := syscall.Kill(int(tickPID), syscall.SIGKILL); err != nil {
		t.Fatalf("kill the ticker (pid %d) while containerd is down: %v", tickPID, err)
	}
	select {
	case st, ok := <-tickExit:
		t.Fatalf("ticker's Wait yielded %+v (ok %v) while containerd is down", st, ok)
	case <-time.After(500 * time.Millisecond):
	}
	release()
	released := time.Now()
	for rt.Reconnects() < 2 {
		if time.Since(released) > 20*time.Second {
			t.Fatal("no second reconnection within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("second outage: reconnected %s after the start lock was released", time.Since(released).Round(time.Millisecond))
	select {
	case st, ok := <-tickExit:
		if !ok || st.Signal != syscall.SIGKILL || st.Code != 128+int(syscall.SIGKILL) {
			t.Errorf("ticker's exit during the outage = %+v (ok %v), want SIGKILL", st, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ticker's exit during the outage was not reported after the reconnection")
	}

	// A container killed after the restarts is still noticed, with its
	// real status.
	select {
	case st, ok := <-appExit:
		t.Fatalf("app's Wait yielded %+v (ok %v) while it runs", st, ok)
	default:
	}
	if err := rt.Kill(ctx, appC, syscall.SIGKILL); err != nil {
		t.Fatalf("kill after the restart: %v", err)
	}
	select {
	case st, ok := <-appExit:
		if !ok || st.Signal != syscall.SIGKILL {
			t.Errorf("app's exit after the restart = %+v (ok %v), want SIGKILL", st, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the app's exit after the restart was not noticed")
	}
	if _, err := rt.Stop(ctx, appC, 5*time.Second); err != nil {
		t.Errorf("Stop after the restart: %v", err)
	}
	if err := rt.RemovePod(ctx, pod); err != nil {
		t.Errorf("RemovePod after the restart: %v", err)
	}
}

// isolatedConfig is a Config with its own private containerd (state and
// run directories), bridge and subnet. At the end of the test (after
// cleanups registered later) it stops that containerd and removes the
// bridge and the run directory.
func isolatedConfig(t *testing.T) Config {
	t.Helper()
	// Unix socket paths must stay under 108 bytes: a short run directory.
	runDir, err := os.MkdirTemp("/run", "easlocal-test-")
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	cfg := Config{
		StateDir: t.TempDir(),
		RunDir:   runDir,
		// One bridge holds one IPv4 subnet: both are the test's own.
		Bridge: "easlt" + strconv.Itoa(pid%100000),
		Subnet: netip.MustParsePrefix(fmt.Sprintf("10.215.%d.0/24", pid%250)),
	}
	// The private daemon even where a system containerd answers.
	cfg.Address = cfg.PrivateAddress()
	t.Cleanup(func() {
		testutil.StopDaemon(t, filepath.Join(runDir, "containerd", "containerd.pid"))
		exec.Command("ip", "link", "del", cfg.Bridge).Run()
		os.RemoveAll(runDir)
		os.RemoveAll(cfg.LeaseDir()) // the test's own bridge: its lease table goes too
	})
	return cfg
}

// loadTestImage builds the example image and loads it into rt's
// containerd (a private one has none of the shared runtime's images).
func loadTestImage(t *testing.T, ctx context.Context, rt *Runtime) string {
	t.Helper()
	names, err := buildAndLoad(ctx, rt, t.TempDir(), build.Options{Ref: "easlocal.local/example:restart-test", Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	return names[0]
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
