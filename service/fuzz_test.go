package service

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/easlocal/easlocal/internal/testutil"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every
// diagnostic must name a path and say something, an error must be a
// *ValidationError, and a valid result must survive the --json round trip.
// The golden inputs are the seed corpus, so plain go test runs them too.
func FuzzParse(f *testing.F) {
	testutil.SeedTxtar(f, "testdata/golden/*.txtar", "service.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, warnings, err := Parse(data)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if ve != nil && len(ve.Errors) == 0 {
			t.Fatal("ValidationError with no errors")
		}
		for _, d := range append(warnings, validationErrors(err)...) {
			if d.Path == "" || d.Message == "" {
				t.Fatalf("diagnostic without path or message: %#v", d)
			}
		}
		if err != nil {
			return
		}
		if s == nil {
			t.Fatal("nil service without error")
		}
		roundTrip(t, s)
		for i := range s.Containers {
			if _, err := s.Containers[i].Args(); err != nil {
				t.Fatalf("valid service, but containers[%d].Args: %v", i, err)
			}
		}
	})
}

// FuzzParseValues reaches the semantic rules far more often than random
// bytes do: the fuzzer picks field values and the test builds well-formed
// JSON around them, with the same invariants as FuzzParse.
func FuzzParseValues(f *testing.F) {
	f.Add("test", "registry-vpc.cn-shanghai.aliyuncs.com/xxx/yyy:zzz", "/data/eas/ENV/bin/python /data/eas/app1.py", int64(8000), int64(3), int64(2), "25%", "/health", "ml.gu7i.c16m60.1-gu30", true, "rpc.keepalive", "/dev/shm", "memory", int64(1))
	f.Add("a", "", "sh -c 'x", int64(0), int64(-1), int64(0), "+1", "health", "", false, "eas.termination_grace_period", "/..", "disk", int64(-1))
	f.Add("svc_1", "nginx@sha256:abc", "", int64(8080), int64(86401), int64(10001), "101%", "/a b", "ecs.c7.xlarge", true, "name", "/proc", "Memory", int64(8589934592))
	f.Add("svc_2", "--help", "x", int64(1), int64(1), int64(1), "1", "/", "ecs.c6.large", false, "rpc", "/models/", "", int64(0))
	f.Fuzz(func(t *testing.T, name, image, command string, port, period, success int64, surge, path, instanceType string,
		topLevelName bool, metadataKey, mountPath, medium string, sizeGB int64) {
		metadata := map[string]any{"rolling_strategy": map[string]any{"max_surge": surge}, metadataKey: period}
		doc := map[string]any{
			"metadata": metadata,
			"cloud":    map[string]any{"computing": map[string]any{"instance_type": instanceType}},
			"containers": []any{map[string]any{
				"image": image, "command": command, "port": port,
				"liveness_check": map[string]any{"http_get": map[string]any{"path": path}, "period_seconds": period, "success_threshold": success},
				"health_check":   map[string]any{"exec": map[string]any{"command": []string{command}}, "timeout_seconds": period},
			}},
			"storage": []any{map[string]any{"mount_path": mountPath, "empty_dir": map[string]any{"medium": medium, "size_limit": sizeGB}}},
		}
		// The name in either spelling (or both, which must then agree).
		if topLevelName {
			doc["name"] = name
		}
		if !topLevelName || success%2 == 0 {
			metadata["name"] = name
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		s, warnings, err := Parse(data)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		for _, d := range append(warnings, validationErrors(err)...) {
			if d.Path == "" || d.Message == "" {
				t.Fatalf("diagnostic without path or message: %#v", d)
			}
		}
		if err == nil {
			roundTrip(t, s)
			if _, err := s.Containers[0].Args(); err != nil {
				t.Fatalf("valid service, but Args: %v", err)
			}
		}
	})
}
