package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchWriters is how many shells print a line each millisecond or a
// little less often (read's timeout on a pipe nothing writes to: no
// process is started per line; busybox counts it in milliseconds).
var benchWriters, _ = strconv.Atoi(envOr("EASLOCAL_BENCH_WRITERS", "5"))

// benchLine is about the example app's request log line.
const benchLine = "2026-12-01T10:20:16Z INF request bytes=416 from=10.213.0.1:33668 method=GET path=/ status=200 took=14us"

// BenchmarkContainerLogCopy is what easlocal spends copying a real
// container's output: benchWriters shells of the example image print
// one line per write each about once a millisecond (≈4,400 lines/s with
// 5, unsynchronised, as a service logs a line per request), and each
// iteration is a window of a second in which the process's CPU time
// (getrusage: this test binary is the runtime; the shells run in the
// container) and its threads' context switches are divided by the
// lines that reached the log file. idle-* is the process in the second
// before the container starts. "file+live" adds a live stream
// (ContainerConfig.Output), as `up` has.
//
//	go test -run '^$' -bench ContainerLogCopy -benchtime 5x ./runtime/
func BenchmarkContainerLogCopy(b *testing.B) {
	for _, live := range []bool{false, true} {
		name := "file"
		if live {
			name = "file+live"
		}
		b.Run(name, func(b *testing.B) { benchLogCopy(b, live) })
	}
}

func benchLogCopy(b *testing.B, live bool) {
	rt := needRuntime(b)
	svc := testService(b, rt, fmt.Sprintf("logbench_%v", live))
	pod := mustPod(b, rt, svc, svc+"-0")
	// The process's own floor (containerd's event stream, the Go
	// runtime), before the container runs.
	c0, w0 := processCPU(), contextSwitches()
	time.Sleep(time.Second)
	idleCPU, idleSwitches := processCPU()-c0, contextSwitches()-w0
	c := startPrinter(b, rt, pod, live)
	time.Sleep(time.Second) // the shells and the copy under way
	var m logCopy
	start := time.Now()
	for b.Loop() {
		m.add(measureLogCopy(b, c, time.Second))
	}
	if m.lines == 0 {
		b.Fatal("no output reached the log")
	}
	b.ReportMetric(float64(m.cpu.Microseconds())/float64(m.lines), "cpu-µs/line")
	b.ReportMetric(float64(m.switches)/float64(m.lines), "ctxsw/line")
	b.ReportMetric(float64(m.lines)/time.Since(start).Seconds(), "lines/s")
	b.ReportMetric(float64(idleCPU.Microseconds()), "idle-cpu-µs/s")
	b.ReportMetric(float64(idleSwitches), "idle-ctxsw/s")
	b.ReportMetric(0, "ns/op")
	if err := rt.RemovePod(testCtx(b), pod); err != nil {
		b.Error(err)
	}
}

// A container printing thousands of lines a second does not wake
// easlocal per line: its FIFO is read in batches and, while the copy
// waits, the lines it prints wake no thread. Before, every pipe write
// woke one through Go's netpoller: about one context switch per line
// (1.0 measured); now a few per batch (0.1-0.3 per line). Every line
// reaches the log whole. Not parallel: it counts the process's context
// switches.
func TestContainerOutputWakesPerBatchNotPerLine(t *testing.T) {
	rt := needRuntime(t)
	svc := testService(t, rt, "logwake")
	pod := mustPod(t, rt, svc, svc+"-0")
	c := startPrinter(t, rt, pod, false)
	time.Sleep(time.Second)
	m := measureLogCopy(t, c, 2*time.Second)
	if m.lines < 1000 {
		t.Fatalf("%d lines in 2s, want thousands", m.lines)
	}
	if per := float64(m.switches) / float64(m.lines); per > 0.5 {
		t.Errorf("%d lines cost %d context switches (%.2f per line), want at most 0.5 per line", m.lines, m.switches, per)
	}
	if err := rt.RemovePod(testCtx(t), pod); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != benchLine {
			t.Fatalf("line %d of the log is %q, want %q", i, l, benchLine)
		}
	}
}

// startPrinter starts c0 in pod: benchWriters shells printing benchLine
// (see BenchmarkContainerLogCopy); with live, it has a live stream.
func startPrinter(tb testing.TB, rt *Runtime, pod *Pod, live bool) *Container {
	tb.Helper()
	cfg := ContainerConfig{Name: "c0", Image: testImage, Args: []string{"/bin/sh", "-c",
		fmt.Sprintf("for i in %s; do sleep 1000000 | while :; do echo '%s'; read -t 0.001 x; done & done; wait", strings.Repeat("x ", benchWriters), benchLine)}}
	if live {
		cfg.Output = &countWriter{}
	}
	return mustStart(tb, rt, pod, cfg)
}

// logCopy is what copying a container's output cost in a window.
type logCopy struct {
	cpu             time.Duration
	lines, switches int64
}

func (m *logCopy) add(o logCopy) {
	m.cpu += o.cpu
	m.lines += o.lines
	m.switches += o.switches
}

// measureLogCopy measures the process while c prints for window.
func measureLogCopy(tb testing.TB, c *Container, window time.Duration) logCopy {
	tb.Helper()
	size := func() int64 {
		fi, err := os.Stat(c.LogPath)
		if err != nil {
			tb.Fatal(err)
		}
		return fi.Size()
	}
	s0, c0, w0 := size(), processCPU(), contextSwitches()
	time.Sleep(window)
	s1, c1, w1 := size(), processCPU(), contextSwitches()
	if s1 < s0 {
		tb.Fatal("the log rotated during the window: raise Config.LogMaxSize")
	}
	return logCopy{cpu: c1 - c0, switches: w1 - w0, lines: (s1 - s0) / int64(len(benchLine)+1)}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contextSwitches sums the context switches of this process's threads:
// each is a thread that went to sleep or was preempted, so a wake-up
// per line shows as about one per line.
func contextSwitches() int64 {
	tasks, _ := os.ReadDir("/proc/self/task")
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + t.Name() + "/status")
		if err != nil {
			continue // the thread exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}
