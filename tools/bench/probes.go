package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/runtime"
)

// probeResult are the intervals between consecutive probes of one kind to
// one instance, in ms.
type probeResult struct {
	Instances int
	Window    time.Duration
	Kinds     map[string][]float64 // path → intervals (ms)
	// Drops are frames the kernel dropped for the capture socket (a gap
	// then may be the capture's, not the prober's).
	Drops uint32
	// Gaps lists intervals over 1.5 periods: when, which instance.
	Gaps []string
}

// sniffProbes records when each HTTP probe request (GET /health, /ready,
// /startup) to one of ips leaves the host on easlocal's bridge, for
// window (ETH_P_ALL: only such sockets see outgoing frames). The timestamps are the kernel's (SO_TIMESTAMPNS), so the
// harness's own scheduling does not blur them.
func sniffProbes(ctx context.Context, ips []string, window time.Duration) (*probeResult, error) {
	want := map[netip.Addr]bool{}
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("instance IP %q: %w", ip, err)
		}
		want[a] = true
	}
	ifi, err := net.InterfaceByName(runtime.BridgeName)
	if err != nil {
		return nil, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS) // reset the counters
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})

	type key struct {
		ip   netip.Addr
		path string
	}
	seen := map[key][]time.Time{}
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			continue // timeout: check the deadline
		}
		ip, path, ok := probeRequest(buf[:n])
		if !ok || !want[ip] {
			continue
		}
		at := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
					at = time.Unix(sec, nsec)
				}
			}
		}
		k := key{ip, path}
		seen[k] = append(seen[k], at)
	}
	res := &probeResult{Instances: len(ips), Window: window, Kinds: map[string][]float64{}}
	if st, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		res.Drops = st.Drops
	}
	for k, ts := range seen {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		for i := 1; i < len(ts); i++ {
			d := ts[i].Sub(ts[i-1])
			res.Kinds[k.path] = append(res.Kinds[k.path], ms(d))
			if d > probePeriod*time.Second*3/2 {
				res.Gaps = append(res.Gaps, fmt.Sprintf("%s %s %v at %s", k.ip, k.path, d.Round(time.Millisecond), ts[i-1].UTC().Format("15:04:05.000")))
			}
		}
	}
	slices.Sort(res.Gaps)
	return res, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// probeRequest parses an Ethernet/IPv4/TCP frame and reports the
// destination and path when its payload starts an HTTP probe request.
func probeRequest(f []byte) (dst netip.Addr, path string, ok bool) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 {
		return
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ip[9] != 6 || ihl < 20 || total > len(ip) || total < ihl+20 {
		return
	}
	dst = netip.AddrFrom4([4]byte(ip[16:20]))
	tcp := ip[ihl:total]
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return
	}
	payload := tcp[off:]
	for _, p := range []string{"/health", "/ready", "/startup"} {
		if bytes.HasPrefix(payload, []byte("GET "+p+" ")) {
			return dst, p, true
		}
	}
	return
}

func (p *probeResult) markdown(period time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d instances, %v, intervals between consecutive probes of one kind to one instance (period_seconds = %v):\n\n", p.Instances, p.Window, period)
	b.WriteString("| probe | intervals | mean ms | stddev ms | min ms | p1 ms | p50 ms | p99 ms | max ms | p99 of abs(interval − period) ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	paths := []string{"/health", "/ready", "/startup"}
	for _, path := range paths {
		xs := slices.Clone(p.Kinds[path])
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		var sum, sq float64
		dev := make([]float64, len(xs))
		for i, x := range xs {
			sum += x
			dev[i] = math.Abs(x - ms(period))
		}
		mean := sum / float64(len(xs))
		for _, x := range xs {
			sq += (x - mean) * (x - mean)
		}
		slices.Sort(dev)
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", path, len(xs), mean,
			math.Sqrt(sq/float64(len(xs))), xs[0], q(xs, 0.01), q(xs, 0.5), q(xs, 0.99), xs[len(xs)-1], q(dev, 0.99))
	}
	fmt.Fprintf(&b, "\nFrames dropped by the capture socket: %d.", p.Drops)
	if len(p.Gaps) > 0 {
		fmt.Fprintf(&b, " Intervals over 1.5 periods: %s.", strings.Join(p.Gaps, "; "))
	}
	b.WriteString("\n")
	return b.String()
}

func q(sorted []float64, f float64) float64 {
	i := int(f*float64(len(sorted)) + 0.5)
	return sorted[min(i, len(sorted)-1)]
}
