// Package metrics owns easlocal's Prometheus metrics for one running
// service: a registry served as GET /metrics on the control API.
//
// # Wiring (session/dashboard.go)
//
//	m := metrics.New(metrics.Source{
//		Status:     ctrl.Status,                       // admin.ServiceStatus snapshot
//		Endpoints:  func() int { return set.Snapshot().Len() },
//		ProbeStats: pm.Stats,                          // prober.Manager
//	})
//	popts.Observe = m.ObserveUpstream               // per attempt, by the gateway
//	popts.CountLimit = m.CountLimit                 // per request a limit refused
//	gw := proxy.New(popts)
//	serve m.Gateway(gw) instead of gw               // client-facing codes and latency
//	adminSrv.Handle("GET /metrics", m.Handler())
//
// # Metrics
//
// Read from Source at scrape time (one consistent snapshot per scrape; an
// instance that is gone leaves no stale series):
//
//	easlocal_prober_probe_total{probe_type,result}             counter   (kubelet prober_probe_total)
//	easlocal_prober_probe_duration_seconds{probe_type,result}  histogram (kubelet prober_probe_duration_seconds)
//	easlocal_prober_probe_result{instance,container,probe_type,result} gauge, 1 for the last published result
//	easlocal_container_restarts_total{instance,container}      counter
//	easlocal_instance_ready{instance}                          gauge 0/1
//	easlocal_instances_desired                                 gauge
//	easlocal_endpoints                                         gauge
//
// Probe run counts and durations come from prober.Manager.Stats, which
// keeps them per probe type and outcome only; per instance and container
// the metric is the last published result (scheduler status). Per-target
// run counts would need the prober to key its stats by target.
//
// Recorded as requests happen:
//
//	easlocal_gateway_requests_total{code}                      counter   (Gateway middleware; 499 = client left)
//	easlocal_gateway_request_duration_seconds                  histogram (Gateway middleware)
//	easlocal_gateway_upstream_requests_total{instance,code}    counter   (ObserveUpstream)
//	easlocal_gateway_retries_total                             counter   (ObserveUpstream)
//	easlocal_gateway_limited_total{limit}                      counter   (CountLimit: requests a limit refused)
//
// plus the standard go_* and process_* collectors. Only /api/predict/
// requests are counted: SDKs polling discovery are not load. The
// children of the request series are resolved once per instance and
// status code, so counting a request is a few atomic adds with no
// allocation (BenchmarkGateway, BenchmarkObserveUpstream).
//
// Totals gives the dashboard cumulative counts without gathering the
// registry. The output is checked in tests with the exposition-format
// parser and promlint (what promtool check metrics does).
package metrics
