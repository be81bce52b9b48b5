package main

import (
	"context"

	"github.com/easlocal/easlocal/internal/usage"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/setup"
	"github.com/rs/zerolog/log"
	"github.com/urfave/cli/v2"
)

// runtimeFlags are the flags of every command that talks to containerd
// (up, run, down, load, images, doctor). Empty values mean the runtime's
// defaults.
func runtimeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "containerd-address", EnvVars: []string{"EASLOCAL_CONTAINERD_ADDRESS"},
			Usage: "containerd `SOCKET` (default: " + runtime.DefaultAddress + " if a containerd answers there, else easlocal starts its own at " + (runtime.Config{}).PrivateAddress() + ")"},
		&cli.StringFlag{Name: "cni-bin-dir", EnvVars: []string{"EASLOCAL_CNI_BIN_DIR"},
			Usage: "`DIR` of the CNI plugins bridge and host-local (default: /usr/lib/cni, then /opt/cni/bin)"},
		&cli.StringFlag{Name: "subnet", EnvVars: []string{"EASLOCAL_SUBNET"},
			Usage: "IPv4 `SUBNET` instance IPs come from (default: " + runtime.DefaultSubnet.String() + ")"},
		&cli.StringFlag{Name: "run-dir", EnvVars: []string{"EASLOCAL_RUN_DIR"},
			Usage: "`DIR` of easlocal's sockets: the private containerd's socket and state (default: " + runtime.DefaultRunDir + ")"},
		&cli.StringFlag{Name: "bridge", EnvVars: []string{"EASLOCAL_BRIDGE"},
			Usage: "Linux `BRIDGE` the instances attach to; another --subnet needs another bridge (default: " + runtime.BridgeName + ")"},
		&cli.StringFlag{Name: "state-dir", EnvVars: []string{"EASLOCAL_STATE_DIR"},
			Usage: "`DIR` of easlocal's state: logs, pod records, the private containerd; IP leases are per bridge, not per state directory (default: " + runtime.DefaultStateDir + ")"},
	}
}

// runtimeConfig reads runtimeFlags into a runtime.Config.
func runtimeConfig(c *cli.Context) (runtime.Config, error) {
	return setup.RuntimeConfig(runtime.Config{Address: c.String("containerd-address"), CNIBinDir: c.String("cni-bin-dir"),
		StateDir: c.String("state-dir"), RunDir: c.String("run-dir"), Bridge: c.String("bridge")}, c.String("subnet"))
}

// newRuntime connects to containerd with the command's runtime flags.
func newRuntime(c *cli.Context) (*runtime.Runtime, error) {
	cfg, err := runtimeConfig(c)
	if err != nil {
		return nil, usage.Wrap(err)
	}
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return runtime.New(ctx, cfg, log.Logger.With().Str("component", "runtime").Logger())
}
