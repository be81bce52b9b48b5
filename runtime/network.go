package runtime

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	gocni "github.com/containerd/go-cni"
)

// cniNetwork names easlocal's CNI network; host-local keeps its leases in
// <ipamDir>/<cniNetwork>/<ip>.
const cniNetwork = "easlocal"

// cniConfList is the network easlocal attaches every instance to: a
// bridge with the host as gateway (so the host reaches instance-ip:port),
// no masquerading (instances need no outbound traffic), and host-local
// IPAM with its leases under easlocal's own state directory.
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
		"name":       cniNetwork,
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      cfg.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": cfg.ipamDir(),
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

// newCNI loads the generated network (attached as eth0) and loopback.
// The config is also written to <StateDir>/cni for people debugging;
// nothing is written to /etc/cni.
func newCNI(cfg Config) (gocni.CNI, error) {
	dir, err := cniBinDir(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: install the Debian/Ubuntu package containernetworking-plugins, or point --cni-bin-dir at the plugins", err)
	}
	conf, err := cniConfList(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.ipamDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create CNI state directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.cniDir(), cniNetwork+".conflist"), conf, 0o644); err != nil {
		return nil, fmt.Errorf("write CNI config: %w", err)
	}
	return gocni.New(
		gocni.WithPluginDir([]string{dir}),
		gocni.WithInterfacePrefix("eth"),
		gocni.WithConfListBytes(conf),
		gocni.WithLoNetwork,
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
		f, err := os.Open(filepath.Join(leaseDir, e.Name()))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			owners[e.Name()] = strings.TrimSpace(sc.Text())
		}
		f.Close()
	}
	return owners, nil
}
