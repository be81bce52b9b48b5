package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// The probe settings of every benchmark service: the demo's three HTTP
// probes at a 1 s period, with timeouts and thresholds written out so the
// frozen-instance bound in the report can be read off them.
const (
	probePeriod      = 1 // seconds
	probeTimeout     = 1 // seconds
	readyFailures    = 3 // readiness failure_threshold
	livenessFailures = 3
)

const serviceTemplate = `{
  "metadata": {"name": %q, "instance": %d%s},
  "containers": [{
    "image": "easlocal.local/example:latest",
    "port": 8000,%s
    "startup_check": {"http_get": {"path": "/startup", "port": 8000},
      "period_seconds": %d, "timeout_seconds": %d, "failure_threshold": 30},
    "health_check": {"http_get": {"path": "/ready", "port": 8000},
      "period_seconds": %d, "timeout_seconds": %d, "failure_threshold": %d},
    "liveness_check": {"http_get": {"path": "/health", "port": 8000},
      "period_seconds": %d, "timeout_seconds": %d, "failure_threshold": %d}
  }]
}
`

// writeService writes service.json for name with n instances into its own
// directory under dir (`up -d` names its log after the directory).
func writeService(dir, name string, n int) (string, error) {
	return writeServiceWith(dir, name, n, "", "")
}

// writeServiceWith is writeService with more metadata members (JSON
// members without the leading comma, e.g. `"rpc": {...}`) and an env value
// VERSION (none when empty), which is what changes between revisions.
func writeServiceWith(dir, name string, n int, metadata, version string) (string, error) {
	if metadata != "" {
		metadata = ",\n    " + metadata
	}
	env := ""
	if version != "" {
		env = fmt.Sprintf("\n    \"env\": [{\"name\": \"VERSION\", \"value\": %q}],", version)
	}
	d := filepath.Join(dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(d, "service.json")
	body := fmt.Sprintf(serviceTemplate, name, n, metadata, env,
		probePeriod, probeTimeout,
		probePeriod, probeTimeout, readyFailures,
		probePeriod, probeTimeout, livenessFailures)
	return p, os.WriteFile(p, []byte(body), 0o644)
}
