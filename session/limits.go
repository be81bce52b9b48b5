package session

import (
	"fmt"

	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/service"
)

// gatewayLimits copies the service's limits and protocol switches into
// the gateway's options: metadata.rpc.rate_limit, worker_threads and
// max_queue_size (per instance, the sidecars too), the enabled limits of
// networking.gateway_policy (the gateway only) and metadata.enable_grpc.
func gatewayLimits(svc *service.Service, o *proxy.Options) {
	if rpc := svc.Metadata.RPC; rpc != nil {
		o.RateLimit = rpc.RateLimit
		o.WorkerThreads = rpc.WorkerThreads
		o.MaxQueueSize = rpc.MaxQueueSize
	}
	if n := svc.Networking; n != nil && n.GatewayPolicy != nil {
		if l := n.GatewayPolicy.RateLimit; l != nil && l.Enable {
			o.GatewayRateLimit = l.Limit
		}
		if l := n.GatewayPolicy.ConcurrencyLimit; l != nil && l.Enable {
			o.ConcurrencyLimit = l.Limit
		}
	}
	o.EnableGRPC = svc.Metadata.EnableGRPC
}

// limitMessage is the event sentence for a limit that started refusing.
func limitMessage(kind string, o proxy.Options) string {
	switch kind {
	case proxy.LimitInstanceRate:
		return fmt.Sprintf("The gateway answers 429 to requests over metadata.rpc.rate_limit (%d a second per instance).", o.RateLimit)
	case proxy.LimitServiceRate:
		return fmt.Sprintf("The gateway answers 429 to requests over networking.gateway_policy.rate_limit (%d a second).", o.GatewayRateLimit)
	case proxy.LimitConcurrency:
		return fmt.Sprintf("The gateway answers 429 to requests over networking.gateway_policy.concurrency_limit (%d in flight).", o.ConcurrencyLimit)
	case proxy.LimitQueueFull:
		return "The gateway answers 450: an instance's queue is full (metadata.rpc.worker_threads in flight, metadata.rpc.max_queue_size waiting)."
	case proxy.LimitQueueKeepalive:
		return "The gateway answers 408 to requests that waited in an instance's queue past metadata.rpc.keepalive."
	}
	return "A gateway limit refuses requests (" + kind + ")."
}
