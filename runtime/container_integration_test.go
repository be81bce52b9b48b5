package runtime

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/easlocal/easlocal/internal/testutil"
)

// Two containers of one instance share its network namespace: the second
// reaches the first on 127.0.0.1.
func TestContainersOfAPodShareLoopback(t *testing.T) {
	rt, _, pod, _ := parallelPod(t, "shared")
	mustStart(t, rt, pod, appContainer(pod, "main", 8000))
	side := mustStart(t, rt, pod, appContainer(pod, "side", 8001))
	waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
	waitHTTP(t, fmt.Sprintf("http://%s:8001/", pod.IP), 20*time.Second)

	out := mustExec(t, rt, side, "/app", "get", "http://127.0.0.1:8000/")
	if got := instanceOf(t, out); got != pod.Instance {
		t.Errorf("main container via 127.0.0.1 answered %q, want %q", out, pod.Instance)
	}
}

// Env is the image's, then the service's (later wins), the hostname is
// the instance name, and Args replaces the image's entrypoint: a command
// run without a shell and a script run by /bin/sh -c.
func TestEnvHostnameAndCommand(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "env")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000, "OVERRIDDEN=from-service", "SERVICE_ONLY=yes"))
	waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)

	env := mustExec(t, rt, c, "/app", "env")
	for _, want := range []string{"IMAGE_ONLY=from-image", "OVERRIDDEN=from-service", "SERVICE_ONLY=yes",
		"LISTENING_PORT=8000", "POD_NAME=" + pod.Instance, "NAMESPACE=" + svc, "PATH="} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "OVERRIDDEN=from-image") {
		t.Errorf("image env was not overridden by the service's:\n%s", env)
	}
	if h := mustExec(t, rt, c, "/app", "hostname"); h != pod.Instance {
		t.Errorf("hostname = %q, want %q", h, pod.Instance)
	}
	if h := mustExec(t, rt, c, "/bin/sh", "-c", "cat /etc/hostname; grep -c "+pod.Instance+" /etc/hosts"); h != pod.Instance+"\n1" {
		t.Errorf("/etc/hostname and /etc/hosts: %q", h)
	}

	// A command, run without a shell: its exit code is reported.
	cmd := mustStart(t, rt, pod, ContainerConfig{Name: "cmd", Image: testImage, Args: []string{"/app", "exit", "7"}})
	if st := waitExit(t, rt, cmd); st.Code != 7 || st.Signal != 0 || st.OOMKilled {
		t.Errorf("command exit status %+v, want code 7", st)
	}
	// A script, run by /bin/sh -c, sees the env; its output lands in the log.
	script := mustStart(t, rt, pod, ContainerConfig{Name: "script", Image: testImage,
		Args: []string{"/bin/sh", "-c", "echo script-sees-$POD_NAME; echo to-stderr >&2"}, Env: []string{"POD_NAME=" + pod.Instance}})
	if st := waitExit(t, rt, script); st.Code != 0 {
		t.Errorf("script exit status %+v", st)
	}
	stopNow(t, rt, script) // drains the output into the log
	log, _ := os.ReadFile(script.LogPath)
	if !strings.Contains(string(log), "script-sees-"+pod.Instance) || !strings.Contains(string(log), "to-stderr") {
		t.Errorf("script log %s = %q", script.LogPath, log)
	}
	stopNow(t, rt, cmd)
}

// A command that does not exist fails StartContainer with a hint.
func TestMissingCommand(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "nocmd")
	_, err := rt.StartContainer(testCtx(t), pod, ContainerConfig{Name: "c0", Image: testImage, Args: []string{"/no/such/binary"}})
	if err == nil || !strings.Contains(err.Error(), "check command/script") {
		t.Fatalf("StartContainer with a missing binary: %v, want an error naming command/script", err)
	}
	left, _ := rt.Leftovers(testCtx(t), svc)
	if len(left.Containers) != 0 || len(left.Snapshots) != 0 {
		t.Errorf("a failed start left %+v", left)
	}
}

// Exceeding metadata.memory gets the container OOM-killed, reported as
// such; the CPU quota and memory limit are in its cgroup.
func TestMemoryLimitOOMAndCPUQuota(t *testing.T) {
	rt, _, pod, _ := parallelPod(t, "oom")
	cfg := appContainer(pod, "c0", 8000)
	cfg.Memory, cfg.CPU = 64, 2
	c := mustStart(t, rt, pod, cfg)
	base := fmt.Sprintf("http://%s:8000", pod.IP)
	waitHTTP(t, base+"/", 20*time.Second)

	cg := c.st.cgroup
	if q := readCgroup(t, "cpu", cg, "cpu.cfs_quota_us", "cpu.max"); q != "200000" && !strings.HasPrefix(q, "200000 ") {
		t.Errorf("CPU quota = %q, want 200000 (2 cores of a 100ms period)", q)
	}
	if m := readCgroup(t, "memory", cg, "memory.limit_in_bytes", "memory.max"); m != fmt.Sprint(64<<20) {
		t.Errorf("memory limit = %q, want %d", m, 64<<20)
	}

	resp, err := httpClient.Post(base+"/control/alloc?mb=200", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
	}
	st := waitExit(t, rt, c)
	if !st.OOMKilled || st.Signal != syscall.SIGKILL || st.Code != 137 {
		t.Errorf("exit status after exceeding the memory limit: %+v, want OOMKilled by SIGKILL (137)", st)
	}
	// Both sources agree: the shim's /tasks/oom event (which set it above)
	// and the cgroup's own count, read until the task is deleted.
	if !cgroupOOMKilled(c.st.cgroup) {
		t.Errorf("the cgroup of %s does not count an OOM kill", c.ID)
	}
	if got, err := rt.Stop(testCtx(t), c, time.Second); err != nil || got != st {
		t.Errorf("Stop after exit = %+v, %v; want the same status %+v", got, err, st)
	}
}

func readCgroup(t *testing.T, controller, cgroup, v1file, v2file string) string {
	t.Helper()
	for _, p := range []string{filepath.Join("/sys/fs/cgroup", controller, cgroup, v1file), filepath.Join("/sys/fs/cgroup", cgroup, v2file)} {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no %s/%s for cgroup %s", controller, v1file, cgroup)
	return ""
}

// Stop sends SIGTERM and, for a process that ignores it, SIGKILL once the
// grace period is over; a process that handles SIGTERM exits cleanly.
func TestStopGrace(t *testing.T) {
	rt, svc, pod, ctx := parallelPod(t, "stop")

	app := mustStart(t, rt, pod, appContainer(pod, "app", 8000))
	waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
	start := time.Now()
	st, err := rt.Stop(ctx, app, 10*time.Second)
	if err != nil || st.Code != 0 || st.Signal != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("Stop of a SIGTERM-handling app: %+v, %v after %s; want code 0 well within the grace", st, err, time.Since(start))
	}

	// PID 1 ignores signals it has no handler for: SIGTERM does nothing.
	stubborn := mustStart(t, rt, pod, ContainerConfig{Name: "stubborn", Image: testImage, Args: []string{"/bin/sleep", "1000"}})
	time.Sleep(200 * time.Millisecond) // let it start
	const grace = 700 * time.Millisecond
	start = time.Now()
	st, err = rt.Stop(ctx, stubborn, grace)
	took := time.Since(start)
	if err != nil || st.Signal != syscall.SIGKILL || st.Code != 137 {
		t.Errorf("Stop of a process ignoring SIGTERM: %+v, %v; want SIGKILL (137)", st, err)
	}
	if took < grace || took > grace+5*time.Second {
		t.Errorf("Stop took %s, want the grace period %s then SIGKILL", took, grace)
	}
	// Idempotent.
	if st2, err := rt.Stop(ctx, stubborn, grace); err != nil || st2 != st {
		t.Errorf("second Stop = %+v, %v; want %+v", st2, err, st)
	}
	left, _ := rt.Leftovers(ctx, svc)
	if len(left.Containers) != 0 || len(left.Snapshots) != 0 {
		t.Errorf("stopped containers left %+v", left)
	}
}

// Restarting a container keeps the instance's IP; its log file keeps the
// output of both runs.
func TestRestartKeepsIPAndLog(t *testing.T) {
	rt, svc, pod, _ := parallelPod(t, "restart")
	url := fmt.Sprintf("http://%s:8000/", pod.IP)
	for run := range 2 {
		cfg := appContainer(pod, "c0", 8000)
		cfg.Args = []string{"/bin/sh", "-c", fmt.Sprintf("echo run-%d-started; exec /app serve", run)}
		cfg.Output = &testutil.SyncBuffer{}
		c := mustStart(t, rt, pod, cfg)
		if got := instanceOf(t, waitHTTP(t, url, 20*time.Second)); got != pod.Instance {
			t.Fatalf("run %d: answered for %q", run, got)
		}
		stopNow(t, rt, c)
		if !strings.Contains(cfg.Output.(*testutil.SyncBuffer).String(), fmt.Sprintf("run-%d-started", run)) {
			t.Errorf("run %d: live output lacks its first line: %q", run, cfg.Output.(*testutil.SyncBuffer).String())
		}
	}
	log, err := os.ReadFile(rt.Config().LogPath(svc, pod.Instance, "c0"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "run-0-started") || !strings.Contains(string(log), "run-1-started") {
		t.Errorf("log lacks a run:\n%s", log)
	}
}

// Pause freezes the container (it stops answering), Resume thaws it, and
// Kill delivers a signal.
func TestPauseResumeKill(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "pause")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	url := fmt.Sprintf("http://%s:8000/", pod.IP)
	waitHTTP(t, url, 20*time.Second)

	if err := rt.Pause(ctx, c); err != nil {
		t.Fatal(err)
	}
	quick := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	if resp, err := quick.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("a paused container answered %s", resp.Status)
	}
	if err := rt.Resume(ctx, c); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, url, 5*time.Second)

	if err := rt.Kill(ctx, c, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := waitExit(t, rt, c); st.Code != 0 || st.OOMKilled {
		t.Errorf("after SIGTERM: %+v, want a clean exit", st)
	}
	stopNow(t, rt, c)
}

func waitExit(t testing.TB, rt *Runtime, c *Container) ExitStatus {
	t.Helper()
	ch, err := rt.Wait(testCtx(t), c)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case st, ok := <-ch:
		if !ok {
			t.Fatal("Wait channel closed without a status")
		}
		return st
	case <-time.After(30 * time.Second):
		t.Fatalf("container %s did not exit", c.Name)
	}
	return ExitStatus{}
}

func stopNow(t testing.TB, rt *Runtime, c *Container) ExitStatus {
	t.Helper()
	st, err := rt.Stop(testCtx(t), c, 0)
	if err != nil {
		t.Fatalf("Stop %s: %v", c.Name, err)
	}
	return st
}

// Exec in a paused container fails at once instead of hanging until the
// container is resumed (an exec probe of a frozen instance fails).
func TestExecInPausedContainer(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "execpause")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	if err := rt.Pause(ctx, c); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := rt.Exec(ctx, c, []string{"/app", "exit", "0"}, 500*time.Millisecond)
	if err == nil && !res.TimedOut {
		t.Errorf("exec in a paused container: %+v, want an error or a timeout", res)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("exec in a paused container took %s", took)
	}
	t.Logf("exec in a paused container: %+v, %v after %s", res, err, time.Since(start))
	st := stopNow(t, rt, c) // Stop thaws it first
	if st.Signal != syscall.SIGKILL && st.Code != 0 {
		t.Errorf("Stop of a paused container: %+v", st)
	}
}

// storage[] mounts: a host directory bound read-only or read-write, and
// an unbound mount path that gets an empty directory of the instance.
func TestMounts(t *testing.T) {
	rt, _, pod, _ := parallelPod(t, "mounts")
	ro, rw := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ro, "model.bin"), []byte("weights"), 0o644)
	cfg := appContainer(pod, "c0", 8000)
	cfg.Mounts = []Mount{
		{HostPath: ro, ContainerPath: "/models", ReadOnly: true},
		{HostPath: rw, ContainerPath: "/output"},
		{ContainerPath: "/scratch"},
	}
	c := mustStart(t, rt, pod, cfg)

	if got := mustExec(t, rt, c, "/bin/cat", "/models/model.bin"); got != "weights" {
		t.Errorf("read-only mount reads %q", got)
	}
	res, err := rt.Exec(testCtx(t), c, []string{"/bin/touch", "/models/new"}, 5*time.Second)
	if err != nil || res.ExitCode == 0 {
		t.Errorf("writing to a read-only mount: %+v, %v; want a failure", res, err)
	}
	mustExec(t, rt, c, "/bin/sh", "-c", "echo result > /output/out.txt; echo tmp > /scratch/x")
	if b, err := os.ReadFile(filepath.Join(rw, "out.txt")); err != nil || string(b) != "result\n" {
		t.Errorf("read-write mount: host sees %q, %v", b, err)
	}
	if got := mustExec(t, rt, c, "/bin/cat", "/scratch/x"); got != "tmp" {
		t.Errorf("unbound mount path: %q", got)
	}

	_, err = rt.StartContainer(testCtx(t), pod, ContainerConfig{Name: "bad", Image: testImage,
		Mounts: []Mount{{HostPath: filepath.Join(ro, "missing"), ContainerPath: "/x"}}})
	if err == nil || !strings.Contains(err.Error(), "host path") {
		t.Errorf("a missing host path: %v", err)
	}
}

// An image loaded again under the same name with another config is what
// the next container runs: nothing of an image may be kept by its name.
func TestImageReloadedUnderSameName(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "reload")
	ref := fmt.Sprintf("easlocal.local/example:reload-%d", os.Getpid())
	t.Cleanup(func() { rt.client.ImageService().Delete(nsCtx(context.Background()), ref) })
	for i, v := range []string{"first", "second"} {
		names, err := buildAndLoad(ctx, rt, t.TempDir(), build.Options{Ref: ref, Env: []string{"RELOADED=" + v}})
		if err != nil {
			t.Fatal(err)
		}
		c := mustStart(t, rt, pod, ContainerConfig{Name: fmt.Sprintf("c%d", i), Image: names[0], Args: []string{"/app", "env"}})
		if st := waitExit(t, rt, c); st.Code != 0 {
			t.Fatalf("env exit status %+v", st)
		}
		stopNow(t, rt, c)
		out, _ := os.ReadFile(c.LogPath)
		if !strings.Contains(string(out), "RELOADED="+v) {
			t.Errorf("container of load %d printed %q, want RELOADED=%s", i+1, out, v)
		}
	}
}
