package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/identifiers"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Unit tests: no root, no containerd.

func TestConfigDefaults(t *testing.T) {
	cfg := Config{}.withDefaults()
	if cfg.StateDir != DefaultStateDir || cfg.RunDir != DefaultRunDir || cfg.Subnet != DefaultSubnet || cfg.Bridge != BridgeName {
		t.Errorf("defaults: %+v", cfg)
	}
	if got := (Config{}).PrivateAddress(); got != "/run/easlocal/containerd/containerd.sock" {
		t.Errorf("PrivateAddress = %s", got)
	}
	// Leases are keyed by bridge and subnet, not by the state directory.
	if got := (Config{StateDir: "/s"}).LeaseDir(); got != "/var/lib/easlocal/cni/ipam/easlocal" {
		t.Errorf("LeaseDir = %s", got)
	}
	if got := (Config{StateDir: "/s"}).legacyLeaseDir(); got != "/s/cni/ipam/easlocal" {
		t.Errorf("legacyLeaseDir = %s", got)
	}
	if got := (Config{}).legacyLeaseDir(); got != "" {
		t.Errorf("legacyLeaseDir of the default state dir = %s, want none", got)
	}
	if got := (Config{StateDir: "/s", Bridge: "b1", Subnet: netip.MustParsePrefix("10.9.0.0/24")}).LeaseDir(); got != "/var/lib/easlocal/cni/ipam/easlocal-b1-10.9.0.0-24" {
		t.Errorf("LeaseDir = %s", got)
	}
	if got := (Config{}).LogPath("svc", "svc-0", "c0"); got != "/var/lib/easlocal/logs/svc/svc-0/c0.log" {
		t.Errorf("LogPath = %s", got)
	}
	// A subnet given with host bits is masked.
	if got := (Config{Subnet: netip.MustParsePrefix("10.50.3.4/16")}).withDefaults().Subnet; got.String() != "10.50.0.0/16" {
		t.Errorf("subnet = %s", got)
	}
}

// The default subnet must not overlap what Docker, Podman and the usual
// Kubernetes distributions use.
func TestDefaultSubnetAvoidsOthers(t *testing.T) {
	for _, s := range []string{"172.17.0.0/16", "172.18.0.0/15", "172.20.0.0/14", "172.24.0.0/13", "10.88.0.0/16",
		"10.244.0.0/16", "10.96.0.0/12", "10.42.0.0/16", "10.43.0.0/16", "192.168.0.0/16"} {
		if p := netip.MustParsePrefix(s); p.Overlaps(DefaultSubnet) {
			t.Errorf("default subnet %s overlaps %s", DefaultSubnet, p)
		}
	}
}

func TestNames(t *testing.T) {
	if err := checkService("demo_svc1"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "has-dash", "has space", strings.Repeat("a", 64), "../x"} {
		if checkService(bad) == nil {
			t.Errorf("service name %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "-x", "a/b", "a b"} {
		if checkName("instance", bad) == nil {
			t.Errorf("instance name %q accepted", bad)
		}
	}
	if got := NetNSName("demo", "demo-0"); got != "easlocal-demo-demo-0" {
		t.Errorf("NetNSName = %s", got)
	}
	id := containerID("demo_svc", "demo_svc-0", "c0")
	if !strings.HasPrefix(id, "demo_svc.demo_svc-0.c0.") || identifiers.Validate(id) != nil {
		t.Errorf("containerID = %q", id)
	}
	if containerID("a", "b", "c") == containerID("a", "b", "c") {
		t.Error("two containers of the same name got the same ID")
	}
	// Names that make no valid containerd ID are hashed.
	long := containerID(strings.Repeat("s", 63), strings.Repeat("i", 63), "c0")
	if identifiers.Validate(long) != nil || !strings.HasPrefix(long, "easlocal-") {
		t.Errorf("long containerID = %q", long)
	}
}

func TestCNIConfList(t *testing.T) {
	cfg := Config{StateDir: "/st", Subnet: netip.MustParsePrefix("10.77.0.0/24")}.withDefaults()
	b, err := cniConfList(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type      string `json:"type"`
			Bridge    string `json:"bridge"`
			IsGateway bool   `json:"isGateway"`
			IPMasq    bool   `json:"ipMasq"`
			IPAM      struct {
				Type    string                `json:"type"`
				DataDir string                `json:"dataDir"`
				Ranges  [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatal(err)
	}
	p := conf.Plugins[0]
	if conf.Name != "easlocal-easlocal0-10.77.0.0-24" || p.Type != "bridge" || p.Bridge != BridgeName || !p.IsGateway || p.IPMasq {
		t.Errorf("bridge config: %s", b)
	}
	if p.IPAM.Type != "host-local" || p.IPAM.DataDir != IPAMDir ||
		p.IPAM.Ranges[0][0]["subnet"] != "10.77.0.0/24" || p.IPAM.Ranges[0][0]["gateway"] != "10.77.0.1" {
		t.Errorf("ipam config: %s", b)
	}
	for _, bad := range []string{"fd00::/64", "10.0.0.0/30"} {
		if _, err := cniConfList(Config{Subnet: netip.MustParsePrefix(bad)}.withDefaults()); err == nil {
			t.Errorf("subnet %s accepted", bad)
		}
	}
	// A second easlocal with another subnet gets its own bridge.
	own := Config{Bridge: "easl-t1"}.withDefaults()
	if b, err := cniConfList(own); err != nil || !strings.Contains(string(b), `"bridge": "easl-t1"`) {
		t.Errorf("Bridge easl-t1: %v, %s", err, b)
	}
	for _, bad := range []string{"a-bridge-name-too-long", "-x", "a b"} {
		if _, err := cniConfList(Config{Bridge: bad}.withDefaults()); err == nil {
			t.Errorf("bridge name %q accepted", bad)
		}
	}
}

func TestPrivateConfig(t *testing.T) {
	cfg := Config{StateDir: "/st", RunDir: "/rn"}.withDefaults()
	conf := privateConfig(cfg)
	for _, want := range []string{
		"version = 2", `root = "/st/containerd/root"`, `state = "/rn/containerd/state"`,
		`address = "/rn/containerd/containerd.sock"`, `address = "/rn/containerd/containerd.sock.ttrpc"`,
		`"io.containerd.grpc.v1.cri"`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("private config lacks %s:\n%s", want, conf)
		}
	}
	// containerd 1.6's tasks service needs the v1 runtime plugin loaded.
	if strings.Contains(conf, "io.containerd.runtime.v1.linux") {
		t.Errorf("private config disables the v1 runtime, which breaks tasks on containerd 1.6")
	}
}

func TestCredentials(t *testing.T) {
	got, err := credentials("dXNlcjpwYTpzcw==") // user:pa:ss
	if err != nil || got != [2]string{"user", "pa:ss"} {
		t.Errorf("credentials = %q, %v", got, err)
	}
	if got, err := credentials(""); err != nil || got != [2]string{} {
		t.Errorf("empty credentials = %q, %v", got, err)
	}
	for _, bad := range []string{"!!!", "bm9jb2xvbg=="} { // not base64; "nocolon"
		if _, err := credentials(bad); err == nil || !strings.Contains(err.Error(), "user:password") {
			t.Errorf("credentials(%q) = %v", bad, err)
		}
	}
}

func TestPullErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	cases := []struct {
		err      error
		withAuth bool
		want     string
	}{
		{fmt.Errorf("head: %w", refused), false, "cannot reach registry r.example"},
		{&net.DNSError{Err: "no such host", Name: "r.example"}, false, "cannot reach registry"},
		{fmt.Errorf("x: %w", docker.ErrInvalidAuthorization), true, "refused the dockerAuth credentials"},
		{fmt.Errorf("x: %w", docker.ErrInvalidAuthorization), false, "needs credentials"},
		{fmt.Errorf("r.example/a:1: %w", errdefs.ErrNotFound), false, "was not found in registry r.example"},
		{errors.New("something else"), false, "pull r.example/a:1 from r.example"},
	}
	for _, c := range cases {
		if got := pullError("r.example/a:1", "r.example", c.withAuth, c.err).Error(); !strings.Contains(got, c.want) {
			t.Errorf("pullError(%v) = %q, want it to contain %q", c.err, got, c.want)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                        "docker.io/library/busybox:latest",
		"easlocal.local/example":         "easlocal.local/example:latest",
		"127.0.0.1:5000/a/b:1":           "127.0.0.1:5000/a/b:1",
		"registry.cn-x.aliyuncs.com/a/b": "registry.cn-x.aliyuncs.com/a/b:latest",
	} {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeRef("has space"); err == nil {
		t.Error("invalid reference accepted")
	}
	if got := ociRefName("latest"); got != "" {
		t.Errorf("a bare tag named an image: %q", got)
	}
	if got := ociRefName("easlocal.local/x:1"); got != "easlocal.local/x:1" {
		t.Errorf("ociRefName = %q", got)
	}
}

func TestCappedBuffer(t *testing.T) {
	b := &cappedBuffer{max: 10}
	for _, s := range []string{"hello", " world", "!!!"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v: a capped buffer must accept everything", s, n, err)
		}
	}
	if got := string(b.Bytes()); got != "hello worl" {
		t.Errorf("kept %q", got)
	}
}

func TestLeaseOwners(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "10.213.0.2"), []byte("easlocal-a-a-0\r\neth0"), 0o600)
	os.WriteFile(filepath.Join(dir, "10.213.0.3"), []byte("easlocal-b-b-0\r\neth0"), 0o600)
	os.WriteFile(filepath.Join(dir, "last_reserved_ip.0"), []byte("10.213.0.3"), 0o600)
	os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600)
	got, err := leaseOwners(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["10.213.0.2"] != "easlocal-a-a-0" || got["10.213.0.3"] != "easlocal-b-b-0" {
		t.Errorf("leaseOwners = %v", got)
	}
	if got, err := leaseOwners(filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Errorf("missing dir: %v, %v", got, err)
	}
}

func TestCgroupOOMKilledMissing(t *testing.T) {
	if cgroupOOMKilled("") || cgroupOOMKilled("/easlocal/does-not-exist") {
		t.Error("OOM reported for a missing cgroup")
	}
}

func TestPreflightErrorNamesFixes(t *testing.T) {
	err := preflightError([]Check{
		{Name: "root", OK: true},
		{Name: "runc", Detail: "runc not found", Fix: "install the Debian/Ubuntu package runc"},
		{Name: "overlayfs", Optional: true, Detail: "missing"},
	})
	if err == nil || !strings.Contains(err.Error(), "package runc") || strings.Contains(err.Error(), "overlayfs") {
		t.Errorf("preflightError = %v", err)
	}
	if preflightError([]Check{{Name: "root", OK: true}}) != nil {
		t.Error("error with every check OK")
	}
	if _, err := cniBinDir(Config{CNIBinDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "bridge, host-local") {
		t.Errorf("empty CNI dir: %v", err)
	}
}

// A subnet already on another interface (here loopback's 127/8) is
// refused with the flag that fixes it; the default is free here.
func TestSubnetCheck(t *testing.T) {
	c := subnetCheck(netip.MustParsePrefix("127.0.0.0/16"), BridgeName)
	if c.OK || !strings.Contains(c.Detail, "lo") || !strings.Contains(c.Fix, "--subnet") {
		t.Errorf("subnetCheck(127.0.0.0/16) = %+v", c)
	}
	if c := subnetCheck(netip.MustParsePrefix("10.254.254.0/24"), BridgeName); !c.OK {
		t.Errorf("subnetCheck of an unused range = %+v", c)
	}
}

// A wait that fails because the task is gone is an exit; one that fails
// because containerd went away is not.
func TestTaskGone(t *testing.T) {
	if !taskGone(status.Error(codes.NotFound, "task abc not found")) {
		t.Error("NotFound: not gone")
	}
	for _, err := range []error{
		status.Error(codes.Unavailable, "error reading from server: EOF"),
		status.Error(codes.Canceled, "grpc: the client connection is closing"),
	} {
		if taskGone(err) {
			t.Errorf("%v: gone", err)
		}
	}
}

// A new pod rotates the instance's logs: the earlier run's output is kept
// once as .log.prev, the current .log starts empty.
func TestRotateLogs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("c0.log", "run 2\n")
	write("c0.log.prev", "run 1\n")
	write("c1.log", "sidecar run 2\n")
	if err := rotateLogs(dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"c0.log.prev": "run 2\n", "c1.log.prev": "sidecar run 2\n"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	for _, gone := range []string{"c0.log", "c1.log"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after rotation", gone)
		}
	}
	if err := rotateLogs(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("rotating a missing directory: %v", err)
	}
}

// NetFault.Check names the field that is wrong.
func TestNetFaultCheck(t *testing.T) {
	for _, tc := range []struct {
		f    NetFault
		want string
	}{
		{NetFault{ID: "Bad-ID", Kind: NetBlackhole}, "fault id"},
		{NetFault{ID: "x", Kind: "jam"}, "kind \"jam\""},
		{NetFault{ID: "x", Kind: NetLoss}, "loss percent 0"},
		{NetFault{ID: "x", Kind: NetLoss, Percent: 101}, "loss percent 101"},
		{NetFault{ID: "x", Kind: NetBandwidth, Rate: "fast"}, "bandwidth rate \"fast\""},
		{NetFault{ID: "x", Kind: NetBandwidth, Rate: "1mbit; rm"}, "bandwidth rate"},
	} {
		if err := tc.f.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	for _, f := range []NetFault{{ID: "a1", Kind: NetReject}, {ID: "a1", Kind: NetLoss, Percent: 30}, {ID: "z", Kind: NetBandwidth, Rate: "500kbit"}} {
		if err := f.Check(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if s := (NetFault{ID: "l1", Kind: NetLoss, Percent: 30}).nftScript(); !strings.Contains(s, `iifname "eth0" numgen random mod 100 < 30 drop`) || !strings.Contains(s, "table inet easlocal_fault_l1") {
		t.Errorf("loss script:\n%s", s)
	}
}
