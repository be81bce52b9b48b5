package session

import (
	"encoding/json"
	"testing"

	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/service"
)

// The service's limits reach the gateway's options: the rpc ones (also
// written at the top level), the enabled gateway_policy limits only, and
// enable_grpc under either of its names.
func TestGatewayLimits(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       proxy.Options
	}{
		{"none", `{}`, proxy.Options{}},
		{"rpc", `{"metadata":{"rpc":{"rate_limit":7,"worker_threads":2,"max_queue_size":9}}}`,
			proxy.Options{RateLimit: 7, WorkerThreads: 2, MaxQueueSize: 9}},
		{"top-level rpc", `{"rpc":{"rate_limit":3}}`, proxy.Options{RateLimit: 3}},
		{"policy enabled", `{"networking":{"gateway_policy":{"rate_limit":{"enable":true,"limit":100},"concurrency_limit":{"enable":true,"limit":4}}}}`,
			proxy.Options{GatewayRateLimit: 100, ConcurrencyLimit: 4}},
		{"policy disabled", `{"networking":{"gateway_policy":{"rate_limit":{"enable":false,"limit":100},"concurrency_limit":{"limit":4}}}}`,
			proxy.Options{}},
		{"grpc", `{"metadata":{"enable_grpc":true}}`, proxy.Options{EnableGRPC: true}},
		{"grpc alias", `{"networking":{"enable_grpc":true}}`, proxy.Options{EnableGRPC: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := parseWith(t, tc.json)
			var got proxy.Options
			gatewayLimits(svc, &got)
			if got.RateLimit != tc.want.RateLimit || got.WorkerThreads != tc.want.WorkerThreads || got.MaxQueueSize != tc.want.MaxQueueSize ||
				got.GatewayRateLimit != tc.want.GatewayRateLimit || got.ConcurrencyLimit != tc.want.ConcurrencyLimit || got.EnableGRPC != tc.want.EnableGRPC {
				t.Errorf("%s: got %+v, want %+v", tc.json, got, tc.want)
			}
		})
	}
}

// parseWith parses a minimal valid service with extra's sections merged in.
func parseWith(t *testing.T, extra string) *service.Service {
	t.Helper()
	base := `{"metadata":{"name":"svc","instance":1},"containers":[{"image":"x:1","command":"/app","port":8000}]}`
	merged := mergeJSON(t, base, extra)
	svc, _, err := service.Parse([]byte(merged))
	if err != nil {
		t.Fatalf("parse %s: %v", merged, err)
	}
	return svc
}

func mergeJSON(t *testing.T, base, extra string) string {
	t.Helper()
	var a, b map[string]any
	if err := json.Unmarshal([]byte(base), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(extra), &b); err != nil {
		t.Fatal(err)
	}
	merge(a, b)
	out, _ := json.Marshal(a)
	return string(out)
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
