package runtime

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
)

// Defaults for the zero values of Config.
const (
	// DefaultAddress is where a system containerd listens.
	DefaultAddress = "/run/containerd/containerd.sock"
	// DefaultStateDir holds logs, the private containerd's root, CNI
	// config and (under IPAMDir, for every state directory) IP leases.
	DefaultStateDir = "/var/lib/easlocal"
	// DefaultRunDir holds sockets and FIFOs (the private containerd's
	// socket and state).
	DefaultRunDir = "/run/easlocal"
	// Namespace is the containerd namespace every easlocal object lives in.
	Namespace = "easlocal"
	// BridgeName is the default Linux bridge the instances are attached to
	// (Config.Bridge).
	BridgeName = "easlocal0"
	// NetNSDir is where easlocal's network namespaces live. Not `ip
	// netns`'s /var/run/netns: the first `ip netns add` on a machine
	// bind-mounts that directory over itself, which pins every namespace
	// already in it twice and makes it unremovable (EBUSY) for whoever
	// created it. Nothing else mounts over this directory. Enter one with
	// `nsenter --net=/run/easlocal/netns/NAME`.
	NetNSDir = "/run/easlocal/netns"
	// legacyNetNSDir is where earlier versions put them: Leftovers and
	// Cleanup still look there.
	legacyNetNSDir = "/var/run/netns"
	// Snapshotter unpacks images and backs container root filesystems.
	Snapshotter = "overlayfs"
)

// netNSDirs are where Leftovers and Cleanup look for namespaces.
var netNSDirs = []string{NetNSDir, legacyNetNSDir}

// DefaultPidsLimit is each container's process cap when Config.PidsLimit
// is zero. It counts threads too: 4096 leaves room for a thread-heavy
// inference server (a worker pool per core, BLAS threads) while a fork
// bomb stops far below the host's pid_max (32768 on many machines).
const DefaultPidsLimit = 4096

// DefaultSubnet avoids Docker (172.17-31/16), Podman (10.88/16) and the
// Kubernetes/flannel/calico/k3s defaults (10.244/16, 10.96/12, 10.42/16,
// 10.43/16, 192.168/16).
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/16")

// DefaultCNIBinDirs are searched in order when Config.CNIBinDir is empty:
// Debian's containernetworking-plugins, then the upstream location.
var DefaultCNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Labels on every container and snapshot easlocal creates. Cleanup finds
// leftovers through them.
const (
	LabelService   = "easlocal.service"
	LabelInstance  = "easlocal.instance"
	LabelContainer = "easlocal.container"
)

// namePattern restricts service names to what EAS allows (letters, digits,
// '_'): without '-', "easlocal-<service>-<instance>" splits unambiguously,
// which is how leftovers of one service are told from another's.
var (
	serviceName = regexp.MustCompile(`^[A-Za-z0-9_]{1,63}$`)
	objectName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	bridgeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)
)

func checkService(s string) error {
	if !serviceName.MatchString(s) {
		return fmt.Errorf("service name %q: use 1-63 letters, digits or '_'", s)
	}
	return nil
}

func checkName(what, s string) error {
	if !objectName.MatchString(s) {
		return fmt.Errorf("%s name %q: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit", what, s)
	}
	return nil
}

// withDefaults returns cfg with every zero value replaced by its default.
func (cfg Config) withDefaults() Config {
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.RunDir == "" {
		cfg.RunDir = DefaultRunDir
	}
	if cfg.Bridge == "" {
		cfg.Bridge = BridgeName
	}
	if !cfg.Subnet.IsValid() {
		cfg.Subnet = DefaultSubnet
	}
	cfg.Subnet = cfg.Subnet.Masked()
	return cfg
}

// pidsLimit is the cap to put in a container's spec, 0 for none.
func (cfg Config) pidsLimit() int64 {
	switch {
	case cfg.PidsLimit == 0:
		return DefaultPidsLimit
	case cfg.PidsLimit < 0:
		return 0
	}
	return cfg.PidsLimit
}

// paths derived from a defaulted Config; one place so Cleanup, doctor and
// the tests agree on where things are.
func (cfg Config) logDir() string       { return filepath.Join(cfg.StateDir, "logs") }
func (cfg Config) podDir() string       { return filepath.Join(cfg.StateDir, "pods") }
func (cfg Config) cniDir() string       { return filepath.Join(cfg.StateDir, "cni") }
func (cfg Config) ipamDir() string      { return filepath.Join(cfg.StateDir, "cni", "ipam") }
func (cfg Config) fifoDir() string      { return filepath.Join(cfg.RunDir, "fifo") }
func (cfg Config) privateRoot() string  { return filepath.Join(cfg.StateDir, "containerd") }
func (cfg Config) privateState() string { return filepath.Join(cfg.RunDir, "containerd") }

// PrivateAddress is the socket of the private containerd easlocal starts
// when no system containerd answers.
func (cfg Config) PrivateAddress() string {
	return filepath.Join(cfg.withDefaults().privateState(), "containerd.sock")
}

// LeaseDir is the host-local IPAM directory holding one file per leased
// IP: IPAMDir/<network>, the same for every state directory on cfg's
// bridge and subnet.
func (cfg Config) LeaseDir() string {
	return filepath.Join(IPAMDir, cniNetwork(cfg.withDefaults()))
}

// LogPath is where a container's output is appended.
func (cfg Config) LogPath(service, instance, container string) string {
	return filepath.Join(cfg.withDefaults().logDir(), service, instance, container+".log")
}

// NetNSName is the name (in NetNSDir) of an instance's network namespace.
func NetNSName(service, instance string) string {
	return "easlocal-" + service + "-" + instance
}
