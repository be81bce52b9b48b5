// Package service owns the EAS service.json model: the types every other
// package reads (types.go), the parser that fills them, the validation
// rules, and the summary `easlocal validate` prints.
//
// # Use
//
//	s, warnings, err := service.Load("service.json") // or Parse(data); "-" is stdin
//	// print warnings; err is a *ValidationError listing every error at once
//	args, _ := s.Containers[0].Args() // nil = the image's entrypoint and cmd
//	p := s.Containers[0].Probe(service.Liveness) // nil when there is none
//
// A Service from a successful Parse holds effective values only, so no
// consumer needs to know the EAS defaults:
//
//   - metadata.instance: 1 when absent (0 is allowed: a stopped service;
//     up starts nothing and the gateway answers 503).
//   - containers[].port: 8000 when absent.
//   - Every probe: initial_delay_seconds 0, period_seconds 10,
//     timeout_seconds 1, success_threshold 1, failure_threshold 3 for
//     readiness (health_check) and 1 for liveness and startup. As in
//     Kubernetes, 0 means the default. A liveness or startup
//     success_threshold above 1 (Kubernetes rejects it; the EAS docs' own
//     example uses 2) becomes 1, with a warning.
//   - http_get.path "/" when absent; http_get.port and tcp_socket.port
//     default to the container's port.
//   - metadata.cpu and metadata.memory (MB), when 0 or absent, come from
//     cloud.computing.instance_type's cNNmMM part: ml.gu7i.c16m60.1-gu30 is
//     16 cores and 60000 MB. Memory counts GB×1000, not ×1024, because public
//     EAS templates pair that type with "memory": 60000. Other names give no
//     limit, with a warning.
//
// json.MarshalIndent of that Service is `validate --json`: the same field
// names as service.json, and Parse of it gives the same Service back
// (the golden tests and FuzzParse check this round trip).
//
// # Rules
//
// Errors (all reported at once, each "path: what is wrong; how to fix
// it"): JSON syntax (with line and column; parsing stops there), wrong
// types, fractional or out-of-range numbers, the same key twice in one
// object (anywhere: encoding/json would keep the last silently), a missing
// or impossible metadata.name (3–63 characters: lowercase letters, digits,
// _, starting with a letter), instance < 0, negative resources, no
// containers, an empty or malformed image, command and script both set, a
// command that does not split into words, a port outside 1–65535 or on
// 8080/9090 (reserved by the EAS engine; for probe ports too, since a probe
// there would check the engine), a probe with zero or several methods,
// exec.command missing, empty or with an empty program, an http_get path
// without a leading /, negative timings, seconds above a day (86400) and
// thresholds above 10000 (typos; this also keeps period × threshold far
// inside time.Duration), env entries without a usable name, storage without
// an absolute, unique mount_path, a dockerAuth that is not base64 of
// user:password, rolling_strategy values that are not counts or 0–100%.
//
// Warnings (the service still runs): unknown fields, with "did you mean"
// for close keys and known aliases (readiness_check → health_check);
// fields easlocal accepts but cannot reproduce, saying what happens
// locally (gpu, gpu_memory, rpc.max_queue_size / worker_threads /
// rate_limit, rolling_strategy, OSS/NAS/Git/image storage, prepare.
// pythonRequirements, processor, model_path); a timeout longer than the
// period (allowed, as in Kubernetes: a slow check delays the next); a
// period or timeout of 1000 s or more (milliseconds meant?); shell syntax
// in command (it runs without a shell); a one-element exec command with
// spaces; two containers on one port (they share the instance's network
// namespace); duplicate env names; memory under 128 MB; instance 0; an
// instance type whose size cannot be read. dockerAuth is used for pulls
// and rpc.keepalive by the gateway, so neither warns.
//
// Diagnostics about the whole file use the path "(top level)"; keys that
// are not plain identifiers are quoted: metadata["a b"], $["a b"] at the
// top. The echoed map[string]any fields (networking, features, storage
// sources) hold numbers as json.Number, so they are written back exactly.
// Empty arrays and objects decode to nil, as omitempty writes them.
//
// Tests: testdata/golden/*.txtar (go test ./service -update rewrites the
// expectations), FuzzParse (make fuzz; findings are kept in
// testdata/fuzz/FuzzParse).
package service
