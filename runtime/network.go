package runtime

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	gocni "github.com/containerd/go-cni"
)

// IPAMDir is where host-local keeps easlocal's leases, whatever
// Config.StateDir says: a network's leases are in IPAMDir/<network>/<ip>
// and the network is named by the bridge and the subnet only
// (cniNetwork), so two runs with different state directories on one
// bridge share one lease table and never hand out the same address.
// It is where easlocal always kept the default network's leases, so
// an older easlocal still running beside this one shares them too.
const IPAMDir = DefaultStateDir + "/cni/ipam"

// cniNetwork names easlocal's CNI network on cfg's bridge and subnet:
// "easlocal" for the default bridge and subnet (the name older versions
// used), else e.g. easlocal-easl1-10.214.0.0-24.
func cniNetwork(cfg Config) string {
	if cfg.Bridge == BridgeName && cfg.Subnet == DefaultSubnet {
		return "easlocal"
	}
	return fmt.Sprintf("easlocal-%s-%s-%d", cfg.Bridge, cfg.Subnet.Addr(), cfg.Subnet.Bits())
}

// legacyLeaseDir is where an older easlocal kept leases when its state
// directory was not the default; Cleanup still releases what it left
// there. "" when that is LeaseDir itself.
func (cfg Config) legacyLeaseDir() string {
	if d := filepath.Join(cfg.withDefaults().ipamDir(), "easlocal"); d != cfg.LeaseDir() {
		return d
	}
	return ""
}

// cniConfList is the network easlocal attaches every instance to: a
// bridge with the host as gateway (so the host reaches instance-ip:port),
// no masquerading (instances need no outbound traffic), and host-local
// IPAM with its leases in IPAMDir, keyed by bridge and subnet.
func cniConfList(cfg Config) ([]byte, error) {
	gw := cfg.Subnet.Addr().Next()
	if !cfg.Subnet.Addr().Is4() || cfg.Subnet.Bits() > 28 {
		return nil, fmt.Errorf("subnet %s: use an IPv4 prefix of /28 or larger, e.g. %s", cfg.Subnet, DefaultSubnet)
	}
	if !bridgeName.MatchString(cfg.Bridge) {
		return nil, fmt.Errorf("bridge name %q: use 1-15 letters, digits, '_', '.' or '-' (a Linux interface name)", cfg.Bridge)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetwork(cfg),
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      cfg.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": IPAMDir,
					"ranges": [][]map[string]string{{{
						"subnet":  cfg.Subnet.String(),
						"gateway": gw.String(),
					}}},
				},
			},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// newCNI loads the generated network (attached as eth0); lo is set up by
// createNetNS, not by the loopback plugin. The config is also written to
// <StateDir>/cni for people debugging; nothing is written to /etc/cni.
func newCNI(cfg Config) (gocni.CNI, error) {
	dir, err := cniBinDir(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: install the Debian/Ubuntu package containernetworking-plugins, or point --cni-bin-dir at the plugins", err)
	}
	conf, err := cniConfList(cfg)
	if err != nil {
		return nil, err
	}
	if err := privateDir(cfg.StateDir, cfg.cniDir()); err != nil {
		return nil, fmt.Errorf("create CNI state directory: %w", err)
	}
	if err := privateDir(DefaultStateDir, cfg.LeaseDir()); err != nil {
		return nil, fmt.Errorf("create CNI lease directory: %w", err)
	}
	if err := writePrivate(filepath.Join(cfg.cniDir(), "easlocal.conflist"), conf); err != nil {
		return nil, fmt.Errorf("write CNI config: %w", err)
	}
	return gocni.New(
		gocni.WithPluginDir([]string{dir}),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithConfListBytes(conf),
	)
}

// podIP picks the instance's IPv4 address out of a CNI result.
func podIP(res *gocni.Result) (netip.Addr, error) {
	if ifc, ok := res.Interfaces["eth0"]; ok {
		for _, ipc := range ifc.IPConfigs {
			if a, ok := netip.AddrFromSlice(ipc.IP); ok && a.Unmap().Is4() {
				return a.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("CNI returned no IPv4 address for eth0")
}

// leaseOwners returns the CNI container IDs holding leases in leaseDir,
// keyed by lease file name (the IP). host-local writes the owner's ID on
// the first line of each lease file.
func leaseOwners(leaseDir string) (map[string]string, error) {
	entries, err := os.ReadDir(leaseDir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	owners := map[string]string{}
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err != nil {
			continue // last_reserved_ip.0, lock
		}
		// host-local writes "<id>\n<ifname>": a few dozen bytes.
		b, err := readSmall(filepath.Join(leaseDir, e.Name()), 4<<10)
		if err != nil {
			continue
		}
		owner, _, _ := strings.Cut(string(b), "\n")
		owners[e.Name()] = strings.TrimSpace(owner)
	}
	return owners, nil
}
