package k8sexport

import (
	"fmt"

	"github.com/easlocal/easlocal/service"
)

// notes is the header comment: how EAS's semantics were kept, what to
// create, and what has no Kubernetes equivalent. Conditional lines only
// appear for fields the service uses.
func (b *builder) notes() []string {
	s := b.s
	m := s.Metadata
	grace := int(m.GracePeriod().Seconds())
	n := []string{
		fmt.Sprintf("Kubernetes manifests for the EAS service %q, written by easlocal export k8s.", m.Name),
		"",
		"Kept from EAS:",
		"- Probes have every field set because EAS's defaults are not Kubernetes':",
		"  liveness and startup failureThreshold is 1 where Kubernetes would default to 3.",
		"  successThreshold is 1 for liveness and startup: Kubernetes requires it.",
		fmt.Sprintf("- terminationGracePeriodSeconds %d is metadata.eas.termination_grace_period.", grace),
	}
	if sigterm(s) {
		n = append(n, fmt.Sprintf("- rpc.enable_sigterm true: SIGTERM when the pod terminates, SIGKILL %d s later, as on EAS.", grace))
	} else {
		n = append(n,
			"- rpc.enable_sigterm false: EAS sends no SIGTERM, it removes the instance from",
			fmt.Sprintf("  traffic and kills it after %d s. Kubernetes always sends SIGTERM, so a", grace),
			fmt.Sprintf("  preStop sleep of %d s keeps the process untouched for the grace period;", grace),
			"  SIGTERM comes at its end, SIGKILL 2 s later. The sleep action needs Kubernetes 1.30+.",
		)
	}
	if rs := m.RollingStrategy; rs != nil && (rs.MaxSurge != "" || rs.MaxUnavailable != "") {
		n = append(n, "- The RollingUpdate strategy is metadata.rolling_strategy (EAS's default for a value it omits).")
	} else {
		n = append(n, "- metadata.rolling_strategy is not set: EAS's defaults are written out, maxSurge 2%",
			"  (Kubernetes rounds it up to at least 1) and maxUnavailable 0.")
	}
	if m.CPU > 0 || m.Memory > 0 {
		n = append(n, "- Every container requests and is limited to metadata.cpu and memory, as easlocal",
			"  applies them per container; EAS sizes the instance as a whole.")
	}
	if m.GPU > 0 {
		n = append(n, "- metadata.gpu is an nvidia.com/gpu limit: the cluster needs NVIDIA's device plugin.")
	}
	for i, c := range s.Containers {
		if c.HealthCheck == nil {
			n = append(n, fmt.Sprintf("- c%d has no health_check: EAS then only waits for port %d to accept connections;", i, c.Port),
				"  Kubernetes sends traffic once the container runs. Add a readinessProbe if that matters.")
		}
	}
	if len(b.claims) > 0 {
		n = append(n, "", "Create these PersistentVolumeClaims first (EAS storage has no portable equivalent):")
		n = append(n, b.claims...)
	}
	n = append(n, "", "No Kubernetes equivalent, not in these manifests:",
		fmt.Sprintf("- The EAS gateway: /api/predict/%s/ paths and the service token. The Service is", m.Name),
		"  plain HTTP without authentication; put an ingress or gateway in front of it.",
		"- The gateway's answers: 408 after metadata.rpc.keepalive, 429 for rate limits",
		"  (rpc.rate_limit, networking.gateway_policy), 450 when rpc.max_queue_size is full.",
		"- Direct mode (the SDK's discovery of instance addresses); a headless Service comes closest.",
	)
	type cond struct {
		on   bool
		line string
	}
	for _, c := range []cond{
		{s.Autoscaler != nil || s.Cronscaler != nil, "- autoscaler, cronscaler: write a HorizontalPodAutoscaler."},
		{s.Runtime != nil && s.Runtime.EnableCrashBlock, "- runtime.enable_crash_block: a Deployment always restarts crashed containers."},
		{m.Type != "" && m.Type != "Standard", fmt.Sprintf("- metadata.type %s: the queue or router EAS adds is not there.", m.Type)},
		{s.WarmUpDataPath != "", "- warm_up_data_path: no warm-up replay before ready."},
		{hasPrepare(s), "- prepare.pythonRequirements: nothing is installed; put them in the image."},
		{s.Cloud != nil, "- cloud.*: the machine type and VPC; use node selectors and your cluster's network."},
		{s.DockerAuth != "", "- dockerAuth: create an image pull secret and add it to the pod."},
		{m.EnableGRPC, "- metadata.enable_grpc: the Service carries gRPC as any TCP; no gateway conversion."},
		{s.Sinker != nil || s.Unit != nil || s.AIMaster != nil || s.Confidential != nil, "- sinker, unit, aimaster, confidential: EAS features with no Kubernetes counterpart."},
	} {
		if c.on {
			n = append(n, c.line)
		}
	}
	return n
}

func hasPrepare(s *service.Service) bool {
	for _, c := range s.Containers {
		if c.Prepare != nil && (len(c.Prepare.PythonRequirements) > 0 || c.Prepare.PythonRequirementsPath != "") {
			return true
		}
	}
	return false
}
