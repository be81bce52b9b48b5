package service

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/shlex"
)

// Limits. Timings above a day are refused as typos; the threshold cap keeps
// period × threshold far inside time.Duration for the prober.
const (
	DefaultPort        = 8000
	DefaultInstance    = 1
	maxSeconds         = 86400
	maxThreshold       = 10000
	msWarningThreshold = 1000 // a period or timeout this long was probably meant in ms
)

// reservedPorts are taken by the EAS engine inside every instance.
var reservedPorts = map[int]bool{8080: true, 9090: true}

// validator checks the decoded Service and fills in the defaults. It only
// checks fields that decoded (seen); a field with a wrong type already has
// its error.
type validator struct {
	diags     *diagnostics
	seen, bad map[string]bool
}

func (v *validator) present(p string) bool { return v.seen[p] || v.bad[p] }

func (v *validator) service(s *Service) {
	if v.bad[rootPath] {
		return
	}
	if !v.present("metadata") {
		v.diags.errorf("metadata", `missing; add "metadata": {"name": "my_service", "instance": 1}`)
	}
	v.metadata(&s.Metadata, s.Cloud)
	v.containers(s)
	v.storage(s.Storage, s.Metadata.ShmSize)
	if s.DockerAuth != "" {
		v.dockerAuth(s.DockerAuth)
	}
	if strings.IndexFunc(s.Token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		v.diags.errorf("token", "contains white space, control or non-ASCII characters, which an Authorization header cannot carry; use letters, digits and punctuation")
	}
	if n := s.Networking; n != nil && n.GatewayPolicy != nil {
		for _, l := range []struct {
			name string
			lim  *GatewayLimit
		}{{"rate_limit", n.GatewayPolicy.RateLimit}, {"concurrency_limit", n.GatewayPolicy.ConcurrencyLimit}} {
			if l.lim != nil && l.lim.Limit < 0 {
				v.diags.errorf("networking.gateway_policy."+l.name+".limit", "%d is negative; use 0 or more", l.lim.Limit)
			}
		}
	}
	v.warnAccepted(s)
	if s.Processor != "" {
		v.diags.warnf("processor", "ignored: processors are for EAS's built-in model serving, and a custom-image service runs its containers instead; remove it")
	}
	if s.ModelPath != "" {
		v.diags.warnf("model_path", "ignored: it feeds a processor, which custom-image services do not use; to give your container model files, use storage[] with a mount_path (bound locally with easlocal up --mount MOUNT_PATH=HOST_DIR)")
	}
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{2,62}$`)

func (v *validator) metadata(m *Metadata, cloud *Cloud) {
	if v.seen["metadata"] {
		switch {
		case !v.present("metadata.name"):
			v.diags.errorf("metadata.name", "missing; name the service with metadata.name (or name at the top level): 3 to 63 characters, lowercase letters, digits and _, starting with a letter (e.g. \"my_service\")")
		case v.seen["metadata.name"] && m.Name == "":
			v.diags.errorf("metadata.name", "empty; name the service: 3 to 63 characters, lowercase letters, digits and _, starting with a letter (e.g. \"my_service\")")
		case v.seen["metadata.name"] && !validName.MatchString(m.Name):
			v.diags.errorf("metadata.name", "%s", nameProblem(m.Name))
		}
	}

	switch {
	case !v.present("metadata.instance"):
		m.Instance = DefaultInstance
		if v.seen["metadata"] {
			v.diags.warnf("metadata.instance", "missing; EAS requires the number of instances, easlocal runs %d: set it (easlocal up --instances N overrides it locally)", DefaultInstance)
		}
	case m.Instance < 0:
		v.diags.errorf("metadata.instance", "%d is negative; give the number of instances to run (1 or more, 0 for a stopped service)", m.Instance)
	case m.Instance == 0 && v.seen["metadata.instance"]:
		v.diags.warnf("metadata.instance", "0 is a stopped service: easlocal up starts no instance and its gateway answers 503 until you scale up (easlocal scale, or up --instances N)")
	}

	for _, f := range []struct {
		name string
		val  int
	}{{"cpu", m.CPU}, {"memory", m.Memory}, {"gpu", m.GPU}, {"gpu_memory", m.GPUMemory}, {"gpu_core_percentage", m.GPUCorePercentage}, {"shm_size", m.ShmSize}, {"rdma", m.RDMA}} {
		if f.val < 0 {
			v.diags.errorf("metadata."+f.name, "%d is negative; use 0 or more, or leave it out", f.val)
		}
	}
	cpuOK := v.bound("metadata.cpu", int64(m.CPU), maxCPU, "the kernel's CPU quota for one container")
	memOK := v.bound("metadata.memory", int64(m.Memory), maxMemoryMB, "a memory limit in bytes (MB × 2^20 in 64 bits)")
	v.bound("metadata.shm_size", int64(m.ShmSize), maxGB, "a /dev/shm size in bytes (GB × 2^30 in 64 bits)")
	if m.GPUCorePercentage > 100 {
		v.diags.errorf("metadata.gpu_core_percentage", "%d is more than 100; give the share of one GPU's compute, 1 to 100", m.GPUCorePercentage)
	}
	v.serviceType(m.Type)
	if e := m.EAS; e != nil {
		switch g := e.TerminationGracePeriod; {
		case g < 0:
			v.diags.errorf("metadata.eas.termination_grace_period", "%d is negative; give the seconds to wait before a terminating instance is killed (EAS's default is 30)", g)
		case g > maxSeconds:
			v.diags.errorf("metadata.eas.termination_grace_period", "%d is more than %d seconds (a day), which cannot be meant; use a smaller value", g, maxSeconds)
		}
	}
	if m.GPU > 0 {
		v.diags.warnf("metadata.gpu", "easlocal runs containers without GPUs (no GPU device is passed in), so code that needs CUDA fails locally; the service otherwise runs as configured")
	}
	if m.GPUMemory > 0 {
		v.diags.warnf("metadata.gpu_memory", "ignored: easlocal runs containers without GPUs")
	}

	if cpuOK && memOK {
		v.cloudSizing(m, cloud)
	}
	if m.Memory > 0 && m.Memory < 128 {
		v.diags.warnf("metadata.memory", "%d MB is very little: memory is in MB (60 GB is 60000); containers that exceed it are OOM-killed", m.Memory)
	}

	if r := m.RPC; r != nil {
		if r.Keepalive < 0 {
			v.diags.errorf("metadata.rpc.keepalive", "%d is negative; give the per-request time limit in milliseconds, or leave it out for no limit", r.Keepalive)
		}
		v.bound("metadata.rpc.keepalive", int64(r.Keepalive), maxKeepaliveMS, "a time limit in nanoseconds (milliseconds × 10^6 in 64 bits)")
		for _, f := range []struct {
			name string
			val  int
		}{{"io_threads", r.IOThreads}, {"max_batch_size", r.MaxBatchSize}, {"max_batch_timeout", r.MaxBatchTimeout}} {
			if f.val < 0 {
				v.diags.errorf("metadata.rpc."+f.name, "%d is negative; use 0 or more, or leave it out", f.val)
			}
		}
		if v.seen["metadata.rpc.health_check_port"] && r.HealthCheckPort != 0 {
			v.port("metadata.rpc.health_check_port", r.HealthCheckPort, "a port of the instance")
		}
		for _, f := range []struct {
			name, what string
			val        int
		}{
			{"max_queue_size", "at most this many requests wait per instance, 450 beyond (worker_threads defaults to 5)", r.MaxQueueSize},
			{"worker_threads", "at most this many requests are in flight per instance, the rest wait in its queue (max_queue_size defaults to 64)", r.WorkerThreads},
			{"rate_limit", "requests over this many a second per instance get 429", r.RateLimit},
		} {
			p := "metadata.rpc." + f.name
			switch {
			case f.val < 0:
				v.diags.errorf(p, "%d is negative; use 0 or more, or leave it out", f.val)
			case f.val > 0:
				v.diags.warnf(p, "applied by easlocal's gateway as EAS documents it for processors: %s; EAS's documentation does not say whether it applies to custom images", f.what)
			}
		}
	}
	if rs := m.RollingStrategy; rs != nil {
		v.intOrPercent("metadata.rolling_strategy.max_surge", rs.MaxSurge)
		v.intOrPercent("metadata.rolling_strategy.max_unavailable", rs.MaxUnavailable)
	}
}

// nameProblem explains everything wrong with a service name at once and
// proposes a fixed one when it can.
func nameProblem(n string) string {
	var problems []string
	if l := len(n); l < 3 || l > 63 {
		problems = append(problems, fmt.Sprintf("it has %d characters (3 to 63 are allowed)", l))
	}
	if n != "" && (n[0] < 'a' || n[0] > 'z') {
		problems = append(problems, "it must start with a lowercase letter")
	}
	var bad []string
	for _, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_'
		if q := strconv.QuoteRune(r); !ok && !strings.Contains(strings.Join(bad, ""), q) {
			bad = append(bad, q)
		}
	}
	if len(bad) > 0 {
		problems = append(problems, "only lowercase letters, digits and _ are allowed, not "+strings.Join(bad, ", "))
	}
	msg := fmt.Sprintf("%s is not a valid EAS service name: %s", strconv.Quote(n), strings.Join(problems, "; "))
	if fixed := fixName(n); fixed != "" {
		msg += fmt.Sprintf("; use for example %q", fixed)
	}
	return msg
}

func fixName(n string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(n) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-', r == ' ', r == '.':
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	if !validName.MatchString(s) {
		return ""
	}
	return s
}

var percent = regexp.MustCompile(`^([0-9]{1,4})%$`)

func (v *validator) intOrPercent(p string, val IntOrPercent) {
	if !v.seen[p] {
		return
	}
	s := string(val)
	if i, err := strconv.Atoi(s); err == nil {
		if i < 0 {
			v.diags.errorf(p, "%d is negative; use a number of instances (0 or more) or a percentage like \"25%%\"", i)
		}
		return
	}
	if m := percent.FindStringSubmatch(s); m != nil {
		if pct, err := strconv.Atoi(m[1]); err == nil && pct <= 100 {
			return
		}
	}
	v.diags.errorf(p, "%q is neither a number of instances nor a percentage from \"0%%\" to \"100%%\"; write for example 1 or \"25%%\"", s)
}

func (v *validator) containers(s *Service) {
	switch {
	case !v.present("containers"):
		v.diags.errorf("containers", `missing; a custom-image service needs at least one container: "containers": [{"image": "registry.example.com/team/app:1.0", "port": 8000}]`)
	case v.seen["containers"] && len(s.Containers) == 0:
		v.diags.errorf("containers", `empty; add at least one container: [{"image": "registry.example.com/team/app:1.0", "port": 8000}]`)
	}
	portOwner := map[int]int{}
	for i := range s.Containers {
		p := indexPath("containers", i)
		if !v.seen[p] {
			continue
		}
		c := &s.Containers[i]
		v.container(c, p)
		if c.Port > 0 {
			if j, dup := portOwner[c.Port]; dup {
				v.diags.warnf(p+".port", "%d is also the port of containers[%d]; the containers of an instance share one network namespace, so only one of them can listen on it: give each container its own port", c.Port, j)
			} else {
				portOwner[c.Port] = i
			}
		}
	}
}

func (v *validator) container(c *Container, p string) {
	switch {
	case !v.present(p + ".image"):
		v.diags.errorf(p+".image", "missing; give the image to run, e.g. \"registry.example.com/team/app:1.0\"")
	case !v.seen[p+".image"]:
	case strings.TrimSpace(c.Image) == "":
		v.diags.errorf(p+".image", "empty; give the image to run, e.g. \"registry.example.com/team/app:1.0\"")
	default:
		// The parser containerd's pull uses, so validate refuses what up
		// would fail on.
		if _, err := reference.ParseDockerRef(c.Image); err != nil {
			v.diags.errorf(p+".image", "%q is not a valid image reference (%v); write it as [registry/]repository[:tag] or repository@sha256:digest, in lowercase, without spaces", c.Image, err)
		}
	}

	if c.Command != "" && c.Script != "" {
		v.diags.errorf(p+".command", "command and script are both set; keep one: command runs one program without a shell, script runs through /bin/sh -c")
	}
	if c.Command != "" {
		v.command(c.Command, p+".command")
	}
	if c.Script != "" && strings.TrimSpace(c.Script) == "" {
		v.diags.errorf(p+".script", "is blank; write the shell script to run, or remove it to run the image's own entrypoint")
	}

	switch {
	case !v.present(p + ".port"):
		c.Port = DefaultPort
	case v.seen[p+".port"]:
		v.port(p+".port", c.Port, "the port your process listens on")
	}

	names := map[string]int{}
	for j := range c.Env {
		ep := indexPath(p+".env", j)
		if !v.seen[ep] {
			continue
		}
		e := c.Env[j]
		switch {
		case !v.present(ep + ".name"):
			v.diags.errorf(ep+".name", "missing; every env entry needs a name, e.g. {\"name\": \"MODEL_DIR\", \"value\": \"/models\"}")
		case !v.seen[ep+".name"]:
		case e.Name == "":
			v.diags.errorf(ep+".name", "empty; give the variable a name, e.g. \"MODEL_DIR\"")
		case strings.ContainsAny(e.Name, "=\x00"):
			v.diags.errorf(ep+".name", "%q contains '=' or a NUL byte, which cannot be in a variable name; put the value in \"value\"", e.Name)
		default:
			if k, dup := names[e.Name]; dup {
				v.diags.warnf(ep+".name", "%s is also set by env[%d]; set it once (which of the two values the program sees is not defined)", e.Name, k)
			}
			names[e.Name] = j
		}
		if strings.ContainsRune(e.Value, 0) {
			v.diags.errorf(ep+".value", "contains a NUL byte, which environment variables cannot hold; remove it")
		}
	}

	for _, kind := range ProbeKinds {
		if pr := c.Probe(kind); pr != nil {
			v.probe(pr, p+"."+kind.Field(), kind, c.Port)
		}
	}

	if c.Prepare != nil && len(c.Prepare.PythonRequirements) > 0 {
		v.diags.warnf(p+".prepare.pythonRequirements", "EAS pip-installs these packages in the container before it starts; easlocal installs nothing (there is no package index at run time) and runs the image as it is: install them in the image (pip install in the Dockerfile) so it behaves the same everywhere")
	}
	if c.Prepare != nil && c.Prepare.PythonRequirementsPath != "" {
		v.diags.warnf(p+".prepare.pythonRequirementsPath", "EAS pip-installs the requirements file %s before the container starts; easlocal installs nothing (there is no package index at run time) and runs the image as it is: install them in the image (pip install -r in the Dockerfile)", c.Prepare.PythonRequirementsPath)
	}
}

// shellOperators only mean something to a shell; command runs without one.
var shellOperators = map[string]bool{"&&": true, "||": true, "|": true, ";": true, ">": true, ">>": true, "<": true, "&": true, "2>&1": true}

func (v *validator) command(cmd, p string) {
	words, err := shlex.Split(cmd)
	switch {
	case err != nil:
		v.diags.errorf(p, "cannot be split into words (%v); check that every quote is closed, or move shell syntax to script", err)
		return
	case len(words) == 0:
		v.diags.errorf(p, "has no words; give the command line to run, or remove it to run the image's own entrypoint")
		return
	}
	for _, w := range words {
		if shellOperators[w] || strings.HasPrefix(w, "$") || (len(w) > 1 && strings.HasSuffix(w, ";")) {
			v.diags.warnf(p, "%q is shell syntax, but command runs one program without a shell (EAS: single commands only), so %q reaches the program as an argument; use script for shell syntax", w, w)
			return
		}
	}
}

// probePort checks the port of a probe's http_get or tcp_socket (at p),
// or, when the file leaves it out, sets it to the container's port.
func (v *validator) probePort(p string, port *int, containerPort int, what string) {
	switch {
	case !v.present(p):
		*port = containerPort
	case v.seen[p]:
		v.port(p, *port, what)
	}
}

func (v *validator) port(p string, port int, what string) {
	switch {
	case port < 1 || port > 65535:
		v.diags.errorf(p, "%d is not a port; use %s, from 1 to 65535", port, what)
	case reservedPorts[port]:
		v.diags.errorf(p, "%d is reserved by EAS (the engine uses 8080 and 9090 in every instance); use another port, e.g. 8000", port)
	}
}

func (v *validator) probe(pr *Probe, p string, kind ProbeKind, containerPort int) {
	var methods []string
	for _, m := range []string{"http_get", "tcp_socket", "exec"} {
		if v.present(p + "." + m) {
			methods = append(methods, m)
		}
	}
	switch len(methods) {
	case 0:
		example := containerPort
		if example < 1 || example > 65535 || reservedPorts[example] {
			example = DefaultPort
		}
		v.diags.errorf(p, "has no check method; add exactly one of http_get {\"path\": \"/health\", \"port\": %d}, tcp_socket {\"port\": %d} or exec {\"command\": [...]}", example, example)
	case 1:
	default:
		v.diags.errorf(p, "has %s; a probe checks one way: keep exactly one", strings.Join(methods, " and "))
	}

	if h := pr.HTTPGet; h != nil {
		hp := p + ".http_get"
		v.probePort(hp+".port", &h.Port, containerPort, "the port to send the GET to (usually the container's port)")
		switch {
		case h.Path == "":
			h.Path = "/"
		case !strings.HasPrefix(h.Path, "/"):
			v.diags.errorf(hp+".path", "%q must start with /; write %q", h.Path, "/"+h.Path)
		case strings.ContainsAny(h.Path, " \t\r\n"):
			v.diags.errorf(hp+".path", "%q contains white space; escape it as %%20 or remove it", h.Path)
		}
	}
	if t := pr.TCPSocket; t != nil {
		v.probePort(p+".tcp_socket.port", &t.Port, containerPort, "the port to connect to (usually the container's port)")
	}
	if e := pr.Exec; e != nil {
		ep := p + ".exec.command"
		switch {
		case !v.present(ep):
			v.diags.errorf(ep, "missing; give the program and its arguments as an array, e.g. [\"cat\", \"/tmp/healthy\"]")
		case !v.seen[ep]:
		case len(e.Command) == 0:
			v.diags.errorf(ep, "empty; give the program and its arguments, e.g. [\"cat\", \"/tmp/healthy\"]")
		case e.Command[0] == "" && v.seen[ep+"[0]"]:
			v.diags.errorf(ep+"[0]", "empty; the first element is the program to run, e.g. \"cat\"")
		case len(e.Command) == 1 && strings.ContainsAny(strings.TrimSpace(e.Command[0]), " \t"):
			v.diags.warnf(ep, "runs a program named %q: no shell splits it into words; write each word as its own element (%s), or [\"/bin/sh\", \"-c\", %q] for shell syntax", e.Command[0], quoteJSONWords(strings.Fields(e.Command[0])), e.Command[0])
		}
	}

	failureDefault := 1
	if kind == Readiness {
		failureDefault = 3
	}
	timings := []struct {
		field string
		val   *int
		def   int
		limit int
	}{
		{"initial_delay_seconds", &pr.InitialDelaySeconds, 0, maxSeconds},
		{"period_seconds", &pr.PeriodSeconds, 10, maxSeconds},
		{"timeout_seconds", &pr.TimeoutSeconds, 1, maxSeconds},
		{"success_threshold", &pr.SuccessThreshold, 1, maxThreshold},
		{"failure_threshold", &pr.FailureThreshold, failureDefault, maxThreshold},
	}
	for _, t := range timings {
		tp := p + "." + t.field
		switch val := *t.val; {
		case val < 0:
			v.diags.errorf(tp, "%d is negative; use 0 or more (0, like leaving it out, means the default %d)", val, t.def)
		case val > t.limit:
			unit := ""
			if strings.HasSuffix(t.field, "_seconds") {
				unit = " seconds (a day)"
			}
			v.diags.errorf(tp, "%d is more than %d%s, which cannot be meant; use a smaller value", val, t.limit, unit)
		case val >= msWarningThreshold && (t.field == "period_seconds" || t.field == "timeout_seconds"):
			v.diags.warnf(tp, "%d seconds is %s; the unit is seconds, not milliseconds", val, humanSeconds(val))
		}
		if *t.val == 0 {
			*t.val = t.def
		}
	}
	if kind != Readiness && pr.SuccessThreshold > 1 && pr.SuccessThreshold <= maxThreshold {
		v.diags.warnf(p+".success_threshold", "is %d, but Kubernetes, which runs EAS probes, accepts only 1 for %s probes (EAS's own example uses 2 all the same); easlocal uses 1, so one success clears the failure count: set it to 1 or remove it", pr.SuccessThreshold, kind)
		pr.SuccessThreshold = 1
	}
	if pr.TimeoutSeconds > pr.PeriodSeconds && pr.PeriodSeconds > 0 && pr.TimeoutSeconds <= maxSeconds {
		v.diags.warnf(p+".timeout_seconds", "%ds is longer than period_seconds (%ds); as in Kubernetes a slow check delays the next one, so a hanging check runs only every %ds", pr.TimeoutSeconds, pr.PeriodSeconds, pr.TimeoutSeconds)
	}
}

func humanSeconds(s int) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%.1f hours", float64(s)/3600)
	default:
		return fmt.Sprintf("%.1f minutes", float64(s)/60)
	}
}

func quoteJSONWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (v *validator) storage(storage []Storage, shmSize int) {
	var mounted []struct {
		clean string
		i     int
	}
	for i := range storage {
		p := indexPath("storage", i)
		if !v.seen[p] {
			continue
		}
		st := &storage[i]
		mp := p + ".mount_path"
		switch {
		case !v.present(mp):
			v.diags.errorf(mp, "missing; give the directory inside the containers where this storage appears, e.g. \"/models\"")
		case !v.seen[mp]:
		default:
			if msg := MountPathProblem(st.MountPath); msg != "" {
				v.diags.errorf(mp, "%s", msg)
				break
			}
			clean := path.Clean(st.MountPath)
			for _, o := range mounted {
				switch {
				case clean == o.clean:
					v.diags.errorf(mp, "%q is also the mount_path of storage[%d]; mount each directory once", st.MountPath, o.i)
				case inside(clean, o.clean) || inside(o.clean, clean):
					v.diags.errorf(mp, "%q and %q (storage[%d]) overlap: one would hide the other's files; mount them at separate directories", st.MountPath, storage[o.i].MountPath, o.i)
				default:
					continue
				}
				break
			}
			mounted = append(mounted, struct {
				clean string
				i     int
			}{clean, i})
		}
		var kinds []string
		for _, src := range []struct {
			field, what string
			set         bool
		}{
			{"oss", "OSS", st.OSS != nil || v.seen[p+".oss"]},
			{"nfs", "NAS/NFS", st.NFS != nil || v.seen[p+".nfs"]},
			{"git", "Git", st.Git != nil || v.seen[p+".git"]},
			{"image", "image", st.Image != nil || v.seen[p+".image"]},
			{"dataset", "dataset", st.Dataset != nil || v.seen[p+".dataset"]},
			{"empty_dir", "", st.EmptyDir != nil},
		} {
			if !src.set {
				continue
			}
			kinds = append(kinds, src.field)
			if src.what != "" {
				v.diags.warnf(p+"."+src.field, "easlocal does not reach %s storage; bind a local directory with easlocal up --mount %s=HOST_DIR, otherwise the containers see an empty directory there", src.what, cmp.Or(st.MountPath, "MOUNT_PATH"))
			}
		}
		if len(kinds) > 1 {
			v.diags.errorf(p, "has %s; a storage entry mounts one source: split it into one entry per source", strings.Join(kinds, " and "))
		}
		if e := st.EmptyDir; e != nil {
			v.emptyDir(e, p, st.MountPath, shmSize)
		}
	}
}

func (v *validator) emptyDir(e *EmptyDir, p, mountPath string, shmSize int) {
	ep := p + ".empty_dir"
	memory := strings.EqualFold(e.Medium, "memory")
	if e.Medium != "" && !memory {
		v.diags.errorf(ep+".medium", "%q is not a medium; use \"memory\" for a tmpfs, or leave it out for a directory on disk", e.Medium)
	}
	switch {
	case e.SizeLimit < 0:
		v.diags.errorf(ep+".size_limit", "%d is negative; give the size in GB, or leave it out", e.SizeLimit)
	case !v.bound(ep+".size_limit", int64(e.SizeLimit), maxGB, "a tmpfs size in bytes (GB × 2^30 in 64 bits)"):
	case e.SizeLimit > 0 && !memory:
		v.diags.warnf(ep+".size_limit", "EAS caps the directory at %d GB; locally it is a directory on this machine's disk without a quota", e.SizeLimit)
	}
	if memory && path.Clean(mountPath) == "/dev/shm" && shmSize > 0 && shmSize != e.SizeLimit {
		v.diags.warnf(ep+".size_limit", "/dev/shm is set twice: metadata.shm_size says %d GB and this entry %d GB; easlocal uses this entry: keep one", shmSize, e.SizeLimit)
	}
}

func (v *validator) dockerAuth(auth string) {
	raw, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		v.diags.errorf("dockerAuth", "is not base64 (%v); it is base64 of \"user:password\", e.g. the output of: printf 'user:password' | base64", err)
		return
	}
	if !strings.Contains(string(raw), ":") {
		v.diags.errorf("dockerAuth", "decodes to text without ':'; it is base64 of \"user:password\", e.g. the output of: printf 'user:password' | base64")
	}
}
