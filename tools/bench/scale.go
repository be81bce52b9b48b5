package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/easlocal/easlocal/events"
)

type scaleResult struct {
	Ns    []int
	Ready map[int][]float64 // seconds from `up` to the N-th endpoint, per round
	UpCmd map[int][]float64 // seconds until `up -d` returned, per round
	Down  map[int][]float64 // seconds `down` took
	// Phases[n][reason] are seconds from `up` to the first "Pulled" (image
	// checked: the process is up and connected) and to the last pod
	// Created, container Started and EndpointAdded, per round: where the
	// time to ready goes.
	Phases map[int]map[string][]float64
	Window time.Duration
	// easlocal with 50 instances over Window.
	CPUPercent      float64 // of one core
	RSSMB, HWMMB    float64
	ContainerdCPU   float64 // the containerd easlocal uses, same window
	Goroutines      int
	Probes          *probeResult // measured on the largest service
	ProbeInstances  int
	ProbeWindow     time.Duration
	ContainerdError string
}

// runScale times `up` for each N, and with the largest N measures
// easlocal's CPU and memory, then the probe intervals.
func runScale(ctx context.Context, e *easlocal, tmp string, ns []int, rounds int, window, probeWindow time.Duration) (*scaleResult, error) {
	res := &scaleResult{Ns: ns, Ready: map[int][]float64{}, UpCmd: map[int][]float64{}, Down: map[int][]float64{},
		Phases: map[int]map[string][]float64{}, Window: window, ProbeWindow: probeWindow}
	biggest := ns[len(ns)-1]
	for round := range rounds {
		for _, n := range ns {
			name := fmt.Sprintf("bench_sc%d", n)
			file, err := writeService(tmp, name, n)
			if err != nil {
				return nil, err
			}
			logf("scale: round %d: easlocal up -d -n %d", round+1, n)
			t0 := time.Now()
			if err := e.upDetached(ctx, file, n, "127.0.0.1:0"); err != nil {
				e.down(name)
				return nil, err
			}
			res.UpCmd[n] = append(res.UpCmd[n], time.Since(t0).Seconds())
			evs, err := e.events(ctx, name)
			if err != nil {
				e.down(name)
				return nil, err
			}
			if res.Phases[n] == nil {
				res.Phases[n] = map[string][]float64{}
			}
			phase := map[string]float64{}
			for _, ev := range evs {
				at := ev.Time.Sub(t0).Seconds()
				switch ev.Reason {
				case events.Pulled:
					if _, ok := phase["first Pulled"]; !ok {
						phase["first Pulled"] = at
					}
				case events.Created, events.Started, events.EndpointAdded:
					phase["last "+ev.Reason] = max(phase["last "+ev.Reason], at)
				}
			}
			for k, v := range phase {
				res.Phases[n][k] = append(res.Phases[n][k], v)
			}
			count := 0
			for _, ev := range evs {
				switch ev.Reason {
				case events.EndpointAdded:
					count++
				case events.EndpointRemoved:
					count--
				}
				if count == n {
					res.Ready[n] = append(res.Ready[n], ev.Time.Sub(t0).Seconds())
					break
				}
			}
			logf("scale: %d ready after %.2fs (up -d returned after %.2fs)", n, last(res.Ready[n]), last(res.UpCmd[n]))
			if n == biggest && round == 0 {
				if err := measureIdle(ctx, e, name, res); err != nil {
					e.down(name)
					return nil, err
				}
			}
			t1 := time.Now()
			if err := e.down(name); err != nil {
				return nil, err
			}
			res.Down[n] = append(res.Down[n], time.Since(t1).Seconds())
		}
	}
	return res, nil
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	return xs[len(xs)-1]
}

// measureIdle reads easlocal's CPU time over the window while its
// instances are only being probed, then its RSS, then probe intervals.
func measureIdle(ctx context.Context, e *easlocal, name string, res *scaleResult) error {
	pid, err := e.pid(name)
	if err != nil {
		return err
	}
	cpid := containerdPID()
	logf("scale: settling 5s, then easlocal (pid %d) CPU over %v", pid, res.Window)
	time.Sleep(5 * time.Second)
	u0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	c0, cerr := cpuTicks(cpid)
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(res.Window):
	}
	u1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	res.CPUPercent = float64(u1-u0) / clkTck / el * 100
	if c1, err := cpuTicks(cpid); err == nil && cerr == nil {
		res.ContainerdCPU = float64(c1-c0) / clkTck / el * 100
	} else {
		res.ContainerdError = fmt.Sprint(cerr, err)
	}
	res.RSSMB, res.HWMMB, res.Goroutines = memOf(pid)
	logf("scale: easlocal %.2f%% of a core, RSS %.1f MB (peak %.1f MB), %d threads", res.CPUPercent, res.RSSMB, res.HWMMB, res.Goroutines)

	st, err := e.ps(ctx, name)
	if err != nil {
		return err
	}
	var ips []string
	for _, in := range st.Instances {
		ips = append(ips, in.IP)
	}
	res.ProbeInstances = len(ips)
	pr, err := sniffProbes(ctx, ips, res.ProbeWindow)
	if err != nil {
		logf("scale: probe timing: %v", err)
		return nil
	}
	res.Probes = pr
	return nil
}

// clkTck is USER_HZ, 100 on every Linux architecture Go supports.
const clkTck = 100

// cpuTicks is utime+stime of pid (fields 14 and 15 of /proc/<pid>/stat).
func cpuTicks(pid int) (int64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no pid")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return u + st, nil
}

// memOf reads VmRSS, VmHWM (MB) and Threads from /proc/<pid>/status.
func memOf(pid int) (rss, hwm float64, threads int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			rss = n / 1024
		case "VmHWM":
			hwm = n / 1024
		case "Threads":
			threads = int(n)
		}
	}
	return
}

// containerdPID is the private containerd's pid (0 if not found).
func containerdPID() int {
	b, err := os.ReadFile("/run/easlocal/containerd/containerd.pid")
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (s *scaleResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| instances | up → all ready, s (median) | runs | `up -d` returned, s | `down`, s |\n|---:|---:|---|---:|---:|\n")
	for _, n := range s.Ns {
		fmt.Fprintf(&b, "| %d | %.2f | %s | %.2f | %.2f |\n", n, median(s.Ready[n]), spread(s.Ready[n]), median(s.UpCmd[n]), median(s.Down[n]))
	}
	fmt.Fprintf(&b, "\nWhere the time goes (medians, seconds from `up`): the process is up and has checked the image (first Pulled event), the last pod is created (netns and CNI), the last container started, the last endpoint added.\n\n| instances | first Pulled | last pod Created | last container Started | last EndpointAdded |\n|---:|---:|---:|---:|---:|\n")
	for _, n := range s.Ns {
		p := s.Phases[n]
		fmt.Fprintf(&b, "| %d | %.2f | %.2f | %.2f | %.2f |\n", n, median(p["first Pulled"]), median(p["last Created"]), median(p["last Started"]), median(p["last EndpointAdded"]))
	}
	if len(s.Ns) > 1 {
		n1, nb := s.Ns[0], s.Ns[len(s.Ns)-1]
		fmt.Fprintf(&b, "\nN=%d / N=%d ready time: %.2f× (goal < 3×).\n", nb, n1, median(s.Ready[nb])/median(s.Ready[n1]))
	}
	fmt.Fprintf(&b, "\neaslocal with %d instances, each probed for liveness and readiness every second (the startup probe stops once it passed, as the kubelet's does), over %v: CPU %.2f%% of one core (goal < 5%%), RSS %.1f MB, peak RSS %.1f MB (goal < 100 MB), %d threads; easlocal's containerd over the same window: %.2f%% of one core.\n",
		s.Ns[len(s.Ns)-1], s.Window, s.CPUPercent, s.RSSMB, s.HWMMB, s.Goroutines, s.ContainerdCPU)
	return b.String()
}

// ticksOf sums cpuTicks over pids, skipping those that are gone.
func ticksOf(pids []int) int64 {
	var sum int64
	for _, pid := range pids {
		if t, err := cpuTicks(pid); err == nil {
			sum += t
		}
	}
	return sum
}
