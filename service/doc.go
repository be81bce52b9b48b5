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
// Keys are normalised first, as EAS does (normalize.go): a dotted key is
// the nested key ("metadata": {"rpc.keepalive": 5000}), and the
// documented aliases (name, credential.token, top-level rpc.*,
// runtime.termination_grace_period, metadata.workers, ...) fold into one
// spelling, the JSON deployment page's. Both spellings with different
// values are an error naming both paths; every diagnostic names the path
// as the user wrote it. docs/service-json.md lists the aliases and every
// field with what easlocal does with it.
//
// A Service from a successful Parse holds effective values only, so no
// consumer needs to know the EAS defaults:
//
//   - metadata.instance: 1 when absent, with a warning since EAS requires
//     it (0 is allowed: a stopped service;
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
//     limit, with a warning. Without instance_type, the first entry of
//     cloud.computing.instances[] is read the same way.
//   - metadata.eas.termination_grace_period: 0 means EAS's 30 s
//     (Metadata.GracePeriod); rpc.enable_sigterm and
//     runtime.enable_crash_block are read as given.
//   - storage[].empty_dir: Medium "memory" (any case) is a tmpfs of
//     SizeLimit GB; metadata.shm_size is /dev/shm's size in GB.
//
// CheckInstances applies the local instance limit (DefaultMaxInstances,
// raised by --max-instances) after --instances; MountPathProblem is the
// mount_path rule, also used for --mount.
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
// user:password, rolling_strategy values that are not counts or 0–100%,
// numbers that would not survive conversion to what the runtime uses
// (memory MB × 2^20 and GB × 2^30 in int64 bytes, cpu × 100 ms within the
// kernel's 2^44−1 µs CFS quota, keepalive ms as a time.Duration), mount
// paths that are relative, unclean, /, under /proc, /sys or /dev (except
// /dev/shm), /etc/hosts or /etc/hostname, duplicated or nested in another,
// an image reference distribution/reference (containerd's parser)
// refuses, an empty_dir medium other than memory, a storage entry with two
// sources, a token an Authorization header cannot carry.
//
// Warnings (the service still runs): unknown fields, with "did you mean"
// for close keys and known aliases (readiness_check → health_check);
// fields easlocal accepts but cannot reproduce, once each and only when
// they differ from EAS's default, saying what EAS does and what happens
// locally (accepted.go's table, plus gpu, gpu_memory, metadata.type other
// than Standard, OSS/NAS/Git/image/dataset storage,
// prepare.pythonRequirements(Path), processor, model_path, extra
// instances[] candidates); rpc.max_queue_size / worker_threads /
// rate_limit, which the gateway applies as EAS documents them for
// processors (whether EAS applies them to custom images is not
// documented); a timeout longer than the
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
