package setup

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/easlocal/easlocal/runtime"
)

// RuntimeConfig checks the runtime flags of every command that talks to
// containerd (cfg as written, and --subnet, "" for the default) and
// returns the runtime's configuration.
func RuntimeConfig(cfg runtime.Config, subnet string) (runtime.Config, error) {
	if b := cfg.Bridge; b != "" && (len(b) > 15 || strings.ContainsAny(b, "/ ")) {
		return cfg, fmt.Errorf("--bridge %q: a Linux interface name has at most 15 characters and no '/' or spaces", b)
	}
	if subnet != "" {
		p, err := netip.ParsePrefix(subnet)
		if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
			return cfg, fmt.Errorf("--subnet %q: give an IPv4 prefix of /28 or larger, e.g. %s", subnet, runtime.DefaultSubnet)
		}
		cfg.Subnet = p.Masked()
	}
	return cfg, nil
}
