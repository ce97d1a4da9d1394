package container

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/network"
)

// BridgeSubnets returns the gateway (as a /32) and subnets of Docker's
// default bridge: this machine's address there is one that containers of
// every bridge network reach (their 127.0.0.1 is their own).
func (e *Engine) BridgeSubnets(ctx context.Context) ([]string, error) {
	nw, err := e.cli.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspect the bridge network: %w", err)
	}
	var out []string
	for _, c := range nw.IPAM.Config {
		if c.Gateway != "" {
			out = append(out, c.Gateway+"/32")
		}
		if c.Subnet != "" {
			out = append(out, c.Subnet)
		}
	}
	return out, nil
}
