package runtime

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// Exec returns exit code and output, caps the output at 10 KiB, and kills
// a command that outlives its timeout.
func TestExecOutputCapAndTimeout(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "exec")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000))

	res, err := rt.Exec(ctx, c, []string{"/app", "exit", "3"}, 5*time.Second)
	if err != nil || res.ExitCode != 3 || res.TimedOut {
		t.Errorf("exit 3: %+v, %v", res, err)
	}
	res, err = rt.Exec(ctx, c, []string{"/bin/sh", "-c", "echo out; echo err >&2"}, 5*time.Second)
	if err != nil || res.ExitCode != 0 || !bytes.Contains(res.Output, []byte("out")) || !bytes.Contains(res.Output, []byte("err")) {
		t.Errorf("combined output: %+v, %v", res, err)
	}
	res, err = rt.Exec(ctx, c, []string{"/app", "spew", "2"}, 10*time.Second)
	if err != nil || res.ExitCode != 0 || len(res.Output) != MaxExecOutput {
		t.Errorf("2 MiB of output: exit %d, %d bytes kept, err %v; want exit 0 and %d bytes", res.ExitCode, len(res.Output), err, MaxExecOutput)
	}

	start := time.Now()
	res, err = rt.Exec(ctx, c, []string{"/app", "sleep", "60s"}, 300*time.Millisecond)
	took := time.Since(start)
	if err != nil || !res.TimedOut {
		t.Errorf("sleep past the timeout: %+v, %v; want TimedOut", res, err)
	}
	if took > 5*time.Second {
		t.Errorf("timed-out exec returned after %s", took)
	}
	if ps := mustExec(t, rt, c, "/bin/ps"); strings.Contains(ps, "sleep") {
		t.Errorf("the timed-out command still runs:\n%s", ps)
	}

	// A background child keeping the output pipe open does not hold the
	// exec past the main process's exit (the shim waits 2s at most).
	start = time.Now()
	res, err = rt.Exec(ctx, c, []string{"/bin/sh", "-c", "sleep 20 & echo hi"}, 10*time.Second)
	if err != nil || res.ExitCode != 0 || res.TimedOut || string(res.Output) != "hi\n" {
		t.Errorf("exec leaving a background child: %+v, %v", res, err)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Errorf("exec leaving a background child took %s", took)
	}

	if _, err := rt.Exec(ctx, c, []string{"/no/such/probe"}, time.Second); err == nil {
		t.Errorf("exec of a missing binary did not fail")
	}
}

// Output an exec printed just before it exited is kept when copying it
// lags behind the exit (a loaded machine): containerd's Process.Delete
// cancels the copy right after the exec is deleted (fifo.go).
func TestExecOutputDrainedAfterExit(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "execdrain")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	var first sync.Once
	rt.execOutputHook = func() { first.Do(func() { time.Sleep(500 * time.Millisecond) }) }

	res, err := rt.Exec(ctx, c, []string{"/bin/sh", "-c", "echo first; sleep 0.1; echo second"}, 5*time.Second)
	if err != nil || res.ExitCode != 0 || string(res.Output) != "first\nsecond\n" {
		t.Errorf("exec output = %q (exit %d, %v); want both lines", res.Output, res.ExitCode, err)
	}
}

// Thousands of exec probes must not leak: after 1000 execs (some timing
// out, some printing megabytes) the container runs the same processes, and neither the shim nor
// easlocal holds more file descriptors or FIFOs than before.
func TestExecDoesNotLeak(t *testing.T) {
	rt, _, pod, ctx := parallelPod(t, "execleak")
	c := mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
	shim := parentPID(t, int(c.st.task.Pid()))

	// Warm up, so lazily opened descriptors are counted in the baseline.
	for range 5 {
		mustExec(t, rt, c, "/app", "exit", "0")
	}
	pidsBefore, err := c.st.task.Pids(nsCtx(ctx))
	if err != nil {
		t.Fatal(err)
	}
	shimFDs, ownFDs := countFDs(t, shim), countFDs(t, os.Getpid())
	daemon, daemonFDs := 0, 0 // the private containerd's, when it is the one in use
	if rt.Address() == rt.Config().PrivateAddress() {
		daemon = testutil.ReadPID(t, filepath.Join(rt.Config().RunDir, "containerd", "containerd.pid"))
		daemonFDs = countFDs(t, daemon)
	}

	const n, workers = 1000, 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				// Most exit at once; every 50th hangs past its timeout and
				// every 50th (offset 25) prints 2 MB.
				args, timeout := []string{"/app", "exit", strconv.Itoa(i % 3)}, 5*time.Second
				switch i % 50 {
				case 0:
					args, timeout = []string{"/app", "sleep", "30s"}, 100*time.Millisecond
				case 25:
					args = []string{"/app", "spew", "2"}
				}
				res, err := rt.Exec(ctx, c, args, timeout)
				switch {
				case err != nil:
					errs <- fmt.Errorf("exec %d: %w", i, err)
				case i%50 == 0 && !res.TimedOut:
					errs <- fmt.Errorf("exec %d: did not time out: %+v", i, res)
				case i%50 == 25 && (res.TimedOut || res.ExitCode != 0 || len(res.Output) > MaxExecOutput):
					errs <- fmt.Errorf("exec %d (spew 2 MB): exit %d, timed out %v, %d bytes kept (cap %d)", i, res.ExitCode, res.TimedOut, len(res.Output), MaxExecOutput)
				case i%50 != 0 && i%50 != 25 && (res.TimedOut || res.ExitCode != i%3):
					errs <- fmt.Errorf("exec %d: %+v, want exit %d", i, res, i%3)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	pidsAfter, err := c.st.task.Pids(nsCtx(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if len(pidsAfter) != len(pidsBefore) {
		t.Errorf("container processes: %d before, %d after %d execs", len(pidsBefore), len(pidsAfter), n)
	}
	if after := countFDs(t, shim); after > shimFDs+5 {
		t.Errorf("shim file descriptors: %d before, %d after %d execs", shimFDs, after, n)
	}
	if after := countFDs(t, os.Getpid()); after > ownFDs+10 {
		t.Errorf("easlocal file descriptors: %d before, %d after %d execs", ownFDs, after, n)
	}
	if daemon != 0 {
		// Other packages' tests (the e2e suite: tens of containers) run on
		// this daemon at the same time and hold descriptors of their own;
		// a leak of one per exec would still show as +1000.
		if after := countFDs(t, daemon); after > daemonFDs+300 {
			t.Errorf("containerd file descriptors: %d before, %d after %d execs", daemonFDs, after, n)
		}
	}
	if fifos, _ := os.ReadDir(c.st.fifoRoot); len(fifos) > 1 {
		t.Errorf("FIFO directories left in %s: %d (want only the container's own)", c.st.fifoRoot, len(fifos))
	}
}

func parentPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no PPid for %d", pid)
	return 0
}

func countFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// BenchmarkExec measures one exec probe (start, wait, delete).
func BenchmarkExec(b *testing.B) {
	rt := needRuntime(b)
	svc := testService(b, rt, "benchexec")
	pod := mustPod(b, rt, svc, svc+"-0")
	c := mustStart(b, rt, pod, appContainer(pod, "c0", 8000))
	ctx := testCtx(b)
	for b.Loop() {
		if res, err := rt.Exec(ctx, c, []string{"/app", "exit", "0"}, 5*time.Second); err != nil || res.ExitCode != 0 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}
