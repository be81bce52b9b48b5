package runtime

// Network faults inside an instance's network namespace: nftables tables
// (blackhole, reject, loss) and a tbf qdisc (bandwidth). Each fault is one
// table named FaultTablePrefix+ID, so easlocal finds its own and nothing
// else; all of them die with the namespace, and RemovePod and Cleanup
// remove them first anyway.
//
// nft and tc run under `nsenter --net=<pod netns>`: the namespace switch
// happens in that child process before nft starts, so no thread of
// easlocal ever enters a pod's namespace (a thread left there by a bug
// would put the gateway's or CNI's later sockets inside the pod), and
// every command is one a person can rerun by hand. Before each command
// the path is checked to be a mounted network namespace other than
// easlocal's own, so a fault can never land on the host.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NetFaultKind names a network fault.
type NetFaultKind string

const (
	// NetBlackhole drops every packet in and out of the pod's interface:
	// probes and connects time out, open connections hang.
	NetBlackhole NetFaultKind = "blackhole"
	// NetReject refuses: TCP gets a reset, anything else ICMP
	// port-unreachable, so connects fail at once.
	NetReject NetFaultKind = "reject"
	// NetLoss drops NetFault.Percent of the packets in each direction, at
	// random (nft's numgen random).
	NetLoss NetFaultKind = "loss"
	// NetBandwidth limits what the pod sends to NetFault.Rate with a tbf
	// qdisc (one per pod).
	NetBandwidth NetFaultKind = "bandwidth"
)

// FaultTablePrefix starts the name of every nftables table easlocal
// creates (in pods' namespaces only).
const FaultTablePrefix = "easlocal_fault_"

// podIfName is the interface CNI gives each pod (network.go).
const podIfName = "eth0"

// NetFault is one network fault of an instance.
type NetFault struct {
	// ID names the fault (1-32 lower-case letters and digits); its table
	// is FaultTablePrefix+ID.
	ID   string
	Kind NetFaultKind
	// Percent of packets NetLoss drops, 1-100.
	Percent int
	// Rate for NetBandwidth in tc's notation, e.g. "1mbit", "500kbit".
	Rate string
}

var (
	faultID   = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	faultRate = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$`)
)

// Check says what is wrong with f, naming the field.
func (f NetFault) Check() error {
	if !faultID.MatchString(f.ID) {
		return fmt.Errorf("fault id %q: use 1-32 lower-case letters and digits", f.ID)
	}
	switch f.Kind {
	case NetBlackhole, NetReject:
	case NetLoss:
		if f.Percent < 1 || f.Percent > 100 {
			return fmt.Errorf("loss percent %d: give a share of packets from 1 to 100", f.Percent)
		}
	case NetBandwidth:
		if !faultRate.MatchString(strings.ToLower(f.Rate)) {
			return fmt.Errorf("bandwidth rate %q: give a rate such as 1mbit, 500kbit or 2mbps", f.Rate)
		}
	default:
		return fmt.Errorf("network fault kind %q: use blackhole, reject, loss or bandwidth", f.Kind)
	}
	return nil
}

// nftScript is the table of a fault (input and output hooks at raw
// priority, before conntrack, so established connections are hit too).
func (f NetFault) nftScript() string {
	in, out := "", ""
	switch f.Kind {
	case NetBlackhole:
		in = fmt.Sprintf("iifname %q drop", podIfName)
		out = fmt.Sprintf("oifname %q drop", podIfName)
	case NetReject:
		in = fmt.Sprintf("iifname %q meta l4proto tcp reject with tcp reset\n\t\tiifname %q reject", podIfName, podIfName)
	case NetLoss:
		in = fmt.Sprintf("iifname %q numgen random mod 100 < %d drop", podIfName, f.Percent)
		out = fmt.Sprintf("oifname %q numgen random mod 100 < %d drop", podIfName, f.Percent)
	}
	return fmt.Sprintf(`table inet %s%s {
	chain in {
		type filter hook input priority -300; policy accept;
		%s
	}
	chain out {
		type filter hook output priority -300; policy accept;
		%s
	}
}
`, FaultTablePrefix, f.ID, in, out)
}

// AddNetFault starts f in the network namespace of the instance. A
// second fault of the same ID is refused; a second bandwidth limit on one
// instance too.
func (r *Runtime) AddNetFault(ctx context.Context, service, instance string, f NetFault) error {
	if err := f.Check(); err != nil {
		return err
	}
	ns, err := faultNetNS(service, instance)
	if err != nil {
		return err
	}
	if f.Kind == NetBandwidth {
		// Not "replace": an existing root qdisc is someone's, kept as is.
		_, err := inNetNS(ctx, ns, nil, "tc", "qdisc", "add", "dev", podIfName, "root", "tbf",
			"rate", strings.ToLower(f.Rate), "burst", "32kbit", "latency", "400ms")
		if err != nil {
			return fmt.Errorf("instance %s: limit bandwidth (does it already have a limit?): %w", instance, err)
		}
		return nil
	}
	tables, err := faultTables(ctx, ns)
	if err != nil {
		return fmt.Errorf("instance %s: %w", instance, err)
	}
	for _, t := range tables {
		if t == FaultTablePrefix+f.ID {
			return fmt.Errorf("instance %s already has fault %s", instance, f.ID)
		}
	}
	if _, err := inNetNS(ctx, ns, strings.NewReader(f.nftScript()), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("instance %s: add %s fault: %w", instance, f.Kind, err)
	}
	return nil
}

// RemoveNetFault ends a fault AddNetFault started (f as given to it). A
// fault, or a namespace, that is already gone is not an error.
func (r *Runtime) RemoveNetFault(ctx context.Context, service, instance string, f NetFault) error {
	ns, err := faultNetNS(service, instance)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if f.Kind == NetBandwidth {
		if q, err := rootQdisc(ctx, ns); err != nil || q != "tbf" {
			return err
		}
		if _, err := inNetNS(ctx, ns, nil, "tc", "qdisc", "del", "dev", podIfName, "root"); err != nil {
			return fmt.Errorf("instance %s: remove bandwidth limit: %w", instance, err)
		}
		return nil
	}
	if !faultID.MatchString(f.ID) {
		return fmt.Errorf("fault id %q: use 1-32 lower-case letters and digits", f.ID)
	}
	tables, err := faultTables(ctx, ns)
	if err != nil {
		return fmt.Errorf("instance %s: %w", instance, err)
	}
	for _, t := range tables {
		if t == FaultTablePrefix+f.ID {
			if _, err := inNetNS(ctx, ns, nil, "nft", "delete", "table", "inet", t); err != nil {
				return fmt.Errorf("instance %s: remove fault %s: %w", instance, f.ID, err)
			}
		}
	}
	return nil
}

// NetFaults lists the network faults in an instance's namespace: the
// IDs of its fault tables, and "bandwidth" for a tbf limit.
func (r *Runtime) NetFaults(ctx context.Context, service, instance string) ([]string, error) {
	ns, err := faultNetNS(service, instance)
	if err != nil {
		return nil, err
	}
	return netFaultsIn(ctx, ns)
}

func netFaultsIn(ctx context.Context, ns string) ([]string, error) {
	tables, err := faultTables(ctx, ns)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tables {
		out = append(out, strings.TrimPrefix(t, FaultTablePrefix))
	}
	if q, err := rootQdisc(ctx, ns); err != nil {
		return out, err
	} else if q == "tbf" {
		out = append(out, string(NetBandwidth))
	}
	return out, nil
}

// removeNetFaults removes every fault table and a tbf limit from the
// namespace at ns (a leftover of a killed easlocal, or before the
// namespace itself goes).
func removeNetFaults(ctx context.Context, ns string) error {
	if err := checkPodNetNS(ns); err != nil {
		return err
	}
	tables, err := faultTables(ctx, ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tables {
		if _, err := inNetNS(ctx, ns, nil, "nft", "delete", "table", "inet", t); err != nil {
			errs = append(errs, err)
		}
	}
	if q, err := rootQdisc(ctx, ns); err != nil {
		errs = append(errs, err)
	} else if q == "tbf" {
		_, err := inNetNS(ctx, ns, nil, "tc", "qdisc", "del", "dev", podIfName, "root")
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// faultNetNS is the checked namespace path of an instance.
func faultNetNS(service, instance string) (string, error) {
	if err := checkService(service); err != nil {
		return "", err
	}
	if err := checkName("instance", instance); err != nil {
		return "", err
	}
	ns := filepath.Join(NetNSDir, NetNSName(service, instance))
	if _, err := os.Stat(ns); err != nil {
		return "", fmt.Errorf("instance %s has no network namespace (not created yet, or removed): %w", instance, os.ErrNotExist)
	}
	if err := checkPodNetNS(ns); err != nil {
		return "", err
	}
	return ns, nil
}

// checkPodNetNS refuses a path that is not a mounted network namespace,
// or is easlocal's own: a fault must never reach the host's network.
func checkPodNetNS(ns string) error {
	var fs unix.Statfs_t
	if err := unix.Statfs(ns, &fs); err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%s is not a mounted network namespace", ns)
	}
	var pod unix.Stat_t
	if err := unix.Stat(ns, &pod); err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	// The calling thread's namespace is easlocal's (/proc/self would be
	// the main thread's, which createNetNS may have left in a pod); PID
	// 1's is the host's, when easlocal may look at it.
	for i, own := range []string{"/proc/thread-self/ns/net", "/proc/1/ns/net"} {
		var st unix.Stat_t
		if err := unix.Stat(own, &st); err != nil {
			if i > 0 {
				continue
			}
			return fmt.Errorf("easlocal's own network namespace: %w", err)
		}
		if pod.Dev == st.Dev && pod.Ino == st.Ino {
			return fmt.Errorf("%s is easlocal's own network namespace, not a pod's: refusing to add faults there", ns)
		}
	}
	return nil
}

// faultTables lists the inet tables of the namespace named like a fault.
func faultTables(ctx context.Context, ns string) ([]string, error) {
	out, err := inNetNS(ctx, ns, nil, "nft", "list", "tables")
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var tables []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line) // "table inet easlocal_fault_x"
		if len(f) == 3 && f[0] == "table" && f[1] == "inet" && strings.HasPrefix(f[2], FaultTablePrefix) {
			tables = append(tables, f[2])
		}
	}
	return tables, nil
}

// rootQdisc is the kind of the pod interface's root qdisc ("" when the
// interface is gone).
func rootQdisc(ctx context.Context, ns string) (string, error) {
	out, err := inNetNS(ctx, ns, nil, "tc", "qdisc", "show", "dev", podIfName, "root")
	if err != nil {
		if strings.Contains(err.Error(), "Cannot find device") {
			return "", nil
		}
		return "", fmt.Errorf("show qdisc: %w", err)
	}
	f := strings.Fields(string(out)) // "qdisc tbf 8001: root ..."
	if len(f) >= 2 && f[0] == "qdisc" {
		return f[1], nil
	}
	return "", nil
}

// faultCmdTimeout bounds each nft or tc run.
const faultCmdTimeout = 10 * time.Second

// inNetNS runs a command in the network namespace ns (and only that
// namespace: mount, pid and the rest stay easlocal's) and returns its
// output; a failure carries the command's own words.
func inNetNS(ctx context.Context, ns string, stdin *strings.Reader, name string, args ...string) ([]byte, error) {
	bin, err := findBinary(name)
	if err != nil {
		pkg := map[string]string{"nft": "nftables", "tc": "iproute2"}[name]
		return nil, fmt.Errorf("%s is not installed: install Debian's %s package (scripts/install-deps.sh does)", name, pkg)
	}
	nsenter, err := findBinary("nsenter")
	if err != nil {
		return nil, fmt.Errorf("nsenter is not installed: install Debian's util-linux package")
	}
	ctx, cancel := context.WithTimeout(ctx, faultCmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nsenter, append([]string{"--net=" + ns, "--", bin}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return stdout.Bytes(), nil
}
