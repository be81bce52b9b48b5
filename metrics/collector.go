package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/easlocal/easlocal/prober"
)

// Descriptors of the metrics read from Source at scrape time. Names follow
// the kubelet's (prober_probe_total{probe_type,result},
// prober_probe_duration_seconds) and kube-state-metrics'
// (kube_pod_container_status_restarts_total), under easlocal_.
var (
	probeTotalDesc = prometheus.NewDesc("easlocal_prober_probe_total",
		"Probe runs by probe type (liveness, readiness, startup) and result (successful, failed, unknown).",
		[]string{"probe_type", "result"}, nil)
	probeDurationDesc = prometheus.NewDesc("easlocal_prober_probe_duration_seconds",
		"Duration of probe runs by probe type and result.",
		[]string{"probe_type", "result"}, nil)
	probeResultDesc = prometheus.NewDesc("easlocal_prober_probe_result",
		"Last published probe result per instance, container and probe type: 1 for the series whose result label holds it (success, failure, unknown).",
		[]string{"instance", "container", "probe_type", "result"}, nil)
	restartsDesc = prometheus.NewDesc("easlocal_container_restarts_total",
		"Restarts of each container of each instance.",
		[]string{"instance", "container"}, nil)
	readyDesc = prometheus.NewDesc("easlocal_instance_ready",
		"1 when the instance is ready (an endpoint of the gateway), else 0.",
		[]string{"instance"}, nil)
	desiredDesc = prometheus.NewDesc("easlocal_instances_desired",
		"Number of instances the scheduler keeps (after scale).", nil, nil)
	endpointsDesc = prometheus.NewDesc("easlocal_endpoints",
		"Number of ready endpoints the gateway routes to.", nil, nil)
)

// snapshotCollector turns one Source snapshot per scrape into constant
// metrics, so a scrape sees one consistent state and instances that are
// gone leave no stale series behind.
type snapshotCollector struct{ src Source }

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{probeTotalDesc, probeDurationDesc, probeResultDesc, restartsDesc, readyDesc, desiredDesc, endpointsDesc} {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.ProbeStats != nil {
		for k, s := range c.src.ProbeStats() {
			ch <- prometheus.MustNewConstMetric(probeTotalDesc, prometheus.CounterValue, float64(s.Count), string(k.Kind), string(k.Outcome))
			buckets := make(map[float64]uint64, len(prober.DurationBuckets))
			for i, b := range prober.DurationBuckets {
				if i < len(s.Buckets) {
					buckets[b.Seconds()] = s.Buckets[i]
				}
			}
			ch <- prometheus.MustNewConstHistogram(probeDurationDesc, s.Count, s.Sum.Seconds(), buckets, string(k.Kind), string(k.Outcome))
		}
	}
	if c.src.Endpoints != nil {
		ch <- prometheus.MustNewConstMetric(endpointsDesc, prometheus.GaugeValue, float64(c.src.Endpoints()))
	}
	if c.src.Status == nil {
		return
	}
	st := c.src.Status()
	ch <- prometheus.MustNewConstMetric(desiredDesc, prometheus.GaugeValue, float64(st.Desired))
	seen := map[string]bool{} // a duplicate series would fail the whole scrape
	for _, in := range st.Instances {
		if seen[in.Name] {
			continue
		}
		seen[in.Name] = true
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, b2f(in.Ready), in.Name)
		cseen := map[string]bool{}
		for _, ct := range in.Containers {
			if cseen[ct.Name] {
				continue
			}
			cseen[ct.Name] = true
			ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(ct.Restarts), in.Name, ct.Name)
			for kind, p := range ct.Probes {
				ch <- prometheus.MustNewConstMetric(probeResultDesc, prometheus.GaugeValue, 1, in.Name, ct.Name, kind, p.Result)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
