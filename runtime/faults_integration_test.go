package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// faultPod starts one instance of the example app on port 8000 and waits
// until it answers.
func faultPod(t *testing.T, name string) (*Runtime, string, *Pod) {
	t.Helper()
	rt := needRuntime(t)
	svc := testService(t, rt, name)
	pod := mustPod(t, rt, svc, svc+"-0")
	mustStart(t, rt, pod, appContainer(pod, "c0", 8000))
	waitHTTP(t, fmt.Sprintf("http://%s:8000/", pod.IP), 20*time.Second)
	return rt, svc, pod
}

func dialPod(pod *Pod, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:8000", pod.IP), timeout)
	if err == nil {
		c.Close()
	}
	return err
}

func listFaults(t *testing.T, rt *Runtime, pod *Pod) []string {
	t.Helper()
	ids, err := rt.NetFaults(testCtx(t), pod.Service, pod.Instance)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// A blackholed instance takes connects into a timeout (not a refusal),
// an open keep-alive connection hangs, and removing the fault lets
// traffic through again.
func TestNetFaultBlackhole(t *testing.T) {
	t.Parallel()
	rt, _, pod := faultPod(t, "fblack")
	ctx := testCtx(t)
	url := fmt.Sprintf("http://%s:8000/", pod.IP)

	keep := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer keep.CloseIdleConnections()
	if resp, err := keep.Get(url); err != nil {
		t.Fatal(err)
	} else {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	f := NetFault{ID: "b1", Kind: NetBlackhole}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, f); err == nil {
		t.Error("the same fault twice was accepted")
	}
	if got := listFaults(t, rt, pod); !slices.Equal(got, []string{"b1"}) {
		t.Errorf("NetFaults = %v, want [b1]", got)
	}
	err := dialPod(pod, time.Second)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("connect to a blackholed instance: %v, want a timeout", err)
	}
	if _, err := keep.Get(url); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("request on an open connection to a blackholed instance: %v, want a timeout", err)
	}

	if err := rt.RemoveNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if got := listFaults(t, rt, pod); len(got) != 0 {
		t.Errorf("after removal NetFaults = %v", got)
	}
	waitHTTP(t, url, 10*time.Second)
	if err := rt.RemoveNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Errorf("removing a removed fault: %v", err)
	}
}

// A rejecting instance refuses connects at once (a TCP reset, so
// ECONNREFUSED rather than a timeout); removal restores it.
func TestNetFaultReject(t *testing.T) {
	t.Parallel()
	rt, _, pod := faultPod(t, "freject")
	ctx := testCtx(t)
	f := NetFault{ID: "r1", Kind: NetReject}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := dialPod(pod, 5*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to a rejecting instance: %v, want connection refused", err)
	}
	t.Logf("refused after %s", time.Since(start))
	if err := rt.RemoveNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if err := dialPod(pod, 5*time.Second); err != nil {
		t.Errorf("connect after removal: %v", err)
	}
}

// listenUDPIn opens a UDP socket inside the network namespace ns: a
// locked thread enters it only to create the socket and is then
// discarded (the goroutine exits locked), so no other goroutine runs there.
func listenUDPIn(t *testing.T, ns string, port int) *net.UDPConn {
	t.Helper()
	type res struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		goruntime.LockOSThread()
		fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- res{err: err}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- res{err: err}
			return
		}
		c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("UDP socket in %s: %v", ns, r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// countUDP sends n datagrams from the host to the pod and returns how
// many arrived in its namespace.
func countUDP(t *testing.T, pod *Pod, in *net.UDPConn, n int) int {
	t.Helper()
	got := make(chan int)
	go func() {
		buf := make([]byte, 64)
		count := 0
		for {
			in.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := in.ReadFromUDP(buf); err != nil {
				got <- count
				return
			}
			count++
		}
	}()
	out, err := net.Dial("udp4", net.JoinHostPort(pod.IP.String(), fmt.Sprint(in.LocalAddr().(*net.UDPAddr).Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for i := range n {
		if _, err := fmt.Fprintf(out, "%d", i); err != nil {
			t.Fatal(err)
		}
		if i%20 == 19 {
			time.Sleep(time.Millisecond) // no burst can overrun the socket buffer
		}
	}
	return <-got
}

// loss 30% drops a share of real packets entering the pod close to 30%:
// of 2000 datagrams (binomial, sd ~1 point), the measured loss must be
// within 25..35%. Without the fault all arrive.
func TestNetFaultLoss(t *testing.T) {
	t.Parallel()
	rt, _, pod := faultPod(t, "floss")
	ctx := testCtx(t)
	in := listenUDPIn(t, pod.NetNS, 9999)
	const n = 2000
	if got := countUDP(t, pod, in, n); got < n*995/1000 {
		t.Fatalf("without a fault only %d of %d datagrams arrived: the test cannot measure loss here", got, n)
	}
	f := NetFault{ID: "l1", Kind: NetLoss, Percent: 30}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	got := countUDP(t, pod, in, n)
	loss := 100 * float64(n-got) / n
	t.Logf("loss 30%%: %d of %d datagrams arrived, measured loss %.1f%%", got, n, loss)
	if loss < 25 || loss > 35 {
		t.Errorf("measured loss %.1f%%, want 30%% ± 5", loss)
	}
	if err := rt.RemoveNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if got := countUDP(t, pod, in, n); got < n*995/1000 {
		t.Errorf("after removal %d of %d datagrams arrived", got, n)
	}
}

// A bandwidth limit caps what the instance sends: 512 KiB at 4 Mbit/s
// take at least ~1 s (the bound checked is 2/3 of that: a busy machine
// only makes it slower).
func TestNetFaultBandwidth(t *testing.T) {
	t.Parallel()
	rt, _, pod := faultPod(t, "fbw")
	ctx := testCtx(t)
	f := NetFault{ID: "w1", Kind: NetBandwidth, Rate: "4mbit"}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if err := rt.AddNetFault(ctx, pod.Service, pod.Instance, NetFault{ID: "w2", Kind: NetBandwidth, Rate: "1mbit"}); err == nil {
		t.Error("a second bandwidth limit was accepted")
	}
	if got := listFaults(t, rt, pod); !slices.Equal(got, []string{"bandwidth"}) {
		t.Errorf("NetFaults = %v, want [bandwidth]", got)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	start := time.Now()
	resp, err := c.Get(fmt.Sprintf("http://%s:8000/big?kb=512", pod.IP))
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	t.Logf("%d bytes at 4mbit took %s", nb, took)
	if nb != 512<<10 || took < 700*time.Millisecond {
		t.Errorf("%d bytes in %s: the limit did not hold", nb, took)
	}
	if err := rt.RemoveNetFault(ctx, pod.Service, pod.Instance, f); err != nil {
		t.Fatal(err)
	}
	if got := listFaults(t, rt, pod); len(got) != 0 {
		t.Errorf("after removal NetFaults = %v", got)
	}
}

// Faults a killed easlocal left are leftovers: Leftovers lists them,
// Cleanup removes them with the pod; RemovePod with faults active
// leaves nothing either.
func TestNetFaultLeftovers(t *testing.T) {
	t.Parallel()
	rt, svc, pod := faultPod(t, "fleft")
	ctx := testCtx(t)
	for _, f := range []NetFault{{ID: "a1", Kind: NetBlackhole}, {ID: "a2", Kind: NetBandwidth, Rate: "1mbit"}} {
		if err := rt.AddNetFault(ctx, svc, pod.Instance, f); err != nil {
			t.Fatal(err)
		}
	}
	left, err := rt.Leftovers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{pod.Instance + ": a1", pod.Instance + ": bandwidth"}
	if !slices.Equal(left.Faults, want) {
		t.Errorf("Leftovers.Faults = %v, want %v", left.Faults, want)
	}
	if err := rt.Cleanup(ctx, svc); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, rt, svc)

	pod2 := mustPod(t, rt, svc, svc+"-1")
	if err := rt.AddNetFault(ctx, svc, pod2.Instance, NetFault{ID: "a3", Kind: NetReject}); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemovePod(ctx, pod2); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, rt, svc)
	if err := rt.AddNetFault(ctx, svc, pod2.Instance, NetFault{ID: "a4", Kind: NetReject}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a fault on a removed instance: %v, want a missing namespace", err)
	}
}

// A fault never lands outside a pod: easlocal's own namespace and a
// file that is not a namespace are refused.
func TestNetFaultRefusesHostNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to read namespace files")
	}
	if err := checkPodNetNS("/proc/thread-self/ns/net"); err == nil || !strings.Contains(err.Error(), "own network namespace") {
		t.Errorf("easlocal's own namespace: %v", err)
	}
	f, err := os.CreateTemp("", "notns")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := checkPodNetNS(f.Name()); err == nil || !strings.Contains(err.Error(), "not a mounted network namespace") {
		t.Errorf("a plain file: %v", err)
	}
	if err := removeNetFaults(context.Background(), "/proc/thread-self/ns/net"); err == nil {
		t.Error("removeNetFaults ran in easlocal's own namespace")
	}
}
