package service

// Service is one EAS service.json. After Parse every field easlocal uses
// holds its effective value: defaults are filled in, so consumers never
// have to know the EAS defaults themselves.
type Service struct {
	Metadata   Metadata    `json:"metadata"`
	Cloud      *Cloud      `json:"cloud,omitempty"`
	Containers []Container `json:"containers"`
	Storage    []Storage   `json:"storage,omitempty"`
	// DockerAuth is base64("user:password") for a private registry.
	DockerAuth string `json:"dockerAuth,omitempty"`
	// Networking and Features are accepted and echoed, not interpreted.
	Networking map[string]any `json:"networking,omitempty"`
	Features   map[string]any `json:"features,omitempty"`
	// Processor-era keys that do not apply to custom images; kept so
	// `validate --json` round-trips them and warnings can name them.
	Processor string `json:"processor,omitempty"`
	ModelPath string `json:"model_path,omitempty"`
}

// Metadata is the service-wide part of service.json.
type Metadata struct {
	Name string `json:"name"`
	// Instance is the replica count (default 1).
	Instance int `json:"instance"`
	// CPU is in cores and Memory in MB; both 0 means "no limit".
	CPU              int              `json:"cpu,omitempty"`
	Memory           int              `json:"memory,omitempty"`
	GPU              int              `json:"gpu,omitempty"`
	GPUMemory        int              `json:"gpu_memory,omitempty"`
	ShmSize          int              `json:"shm_size,omitempty"`
	Disk             string           `json:"disk,omitempty"`
	WorkspaceID      string           `json:"workspace_id,omitempty"`
	Resource         string           `json:"resource,omitempty"`
	Type             string           `json:"type,omitempty"`
	EnableWebservice bool             `json:"enable_webservice,omitempty"`
	EnableGRPC       bool             `json:"enable_grpc,omitempty"`
	RPC              *RPC             `json:"rpc,omitempty"`
	RollingStrategy  *RollingStrategy `json:"rolling_strategy,omitempty"`
}

// RPC holds the gateway settings of metadata.rpc.
type RPC struct {
	// Keepalive is the per-request time limit in milliseconds (408 past it).
	Keepalive     int `json:"keepalive,omitempty"`
	MaxQueueSize  int `json:"max_queue_size,omitempty"`
	WorkerThreads int `json:"worker_threads,omitempty"`
	RateLimit     int `json:"rate_limit,omitempty"`
}

// RollingStrategy values are an integer or a percentage string ("25%").
type RollingStrategy struct {
	MaxSurge       IntOrPercent `json:"max_surge,omitempty"`
	MaxUnavailable IntOrPercent `json:"max_unavailable,omitempty"`
}

// IntOrPercent is the raw JSON value: a number like 1 or a string like "25%".
type IntOrPercent string

// Cloud is the cloud section; only computing.instance_type is read.
type Cloud struct {
	Computing Computing `json:"computing"`
}

// Computing names the machine type.
type Computing struct {
	InstanceType string `json:"instance_type,omitempty"`
}

// Container is one entry of containers[]; every container of an instance
// shares the instance's network namespace.
type Container struct {
	Image string   `json:"image"`
	Env   []EnvVar `json:"env,omitempty"`
	// Command is one command line, split into words as a shell would and
	// run without a shell. Script is run by /bin/sh -c. At most one is set.
	Command string `json:"command,omitempty"`
	Script  string `json:"script,omitempty"`
	// Port is the port the process listens on (default 8000).
	Port int `json:"port"`
	// HealthCheck is the readiness probe.
	HealthCheck   *Probe   `json:"health_check,omitempty"`
	LivenessCheck *Probe   `json:"liveness_check,omitempty"`
	StartupCheck  *Probe   `json:"startup_check,omitempty"`
	Prepare       *Prepare `json:"prepare,omitempty"`
}

// EnvVar is one env entry.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Prepare is accepted for warnings only: easlocal installs nothing.
type Prepare struct {
	PythonRequirements []string `json:"pythonRequirements,omitempty"`
}

// Probe is one health check. Exactly one of HTTPGet, TCPSocket and Exec is
// set; after Parse the five timing fields hold their effective values.
type Probe struct {
	HTTPGet             *HTTPGetAction   `json:"http_get,omitempty"`
	TCPSocket           *TCPSocketAction `json:"tcp_socket,omitempty"`
	Exec                *ExecAction      `json:"exec,omitempty"`
	InitialDelaySeconds int              `json:"initial_delay_seconds"`
	PeriodSeconds       int              `json:"period_seconds"`
	TimeoutSeconds      int              `json:"timeout_seconds"`
	SuccessThreshold    int              `json:"success_threshold"`
	FailureThreshold    int              `json:"failure_threshold"`
}

// HTTPGetAction is a GET to the instance's IP.
type HTTPGetAction struct {
	Path string `json:"path"`
	Port int    `json:"port"`
}

// TCPSocketAction is a TCP connect to the instance's IP.
type TCPSocketAction struct {
	Port int `json:"port"`
}

// ExecAction runs Command inside the container, without a shell.
type ExecAction struct {
	Command []string `json:"command"`
}

// Storage is one storage[] entry. easlocal binds MountPath to a host
// directory given on the command line; the remote source is not reached.
type Storage struct {
	MountPath string         `json:"mount_path"`
	OSS       map[string]any `json:"oss,omitempty"`
	NFS       map[string]any `json:"nfs,omitempty"`
	Git       map[string]any `json:"git,omitempty"`
	Image     map[string]any `json:"image,omitempty"`
	EmptyDir  map[string]any `json:"empty_dir,omitempty"`
	ReadOnly  bool           `json:"read_only,omitempty"`
}
