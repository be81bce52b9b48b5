package service

// Service is one EAS service.json. After Parse every field easlocal uses
// holds its effective value: defaults are filled in, so consumers never
// have to know the EAS defaults themselves. Aliases and dotted keys are
// already folded into the fields below (normalize.go).
type Service struct {
	Metadata   Metadata    `json:"metadata"`
	Cloud      *Cloud      `json:"cloud,omitempty"`
	Containers []Container `json:"containers"`
	Storage    []Storage   `json:"storage,omitempty"`
	// Token is the service's fixed access token (alias credential.token).
	// easlocal's gateway requires it when --token is not given.
	Token string `json:"token,omitempty"`
	// DockerAuth is base64("user:password") for a private registry
	// (alias credential.docker_auth).
	DockerAuth string      `json:"dockerAuth,omitempty"`
	Runtime    *Runtime    `json:"runtime,omitempty"`
	Networking *Networking `json:"networking,omitempty"`
	// The rest is accepted and echoed; validate warns what EAS does with
	// each and what happens locally instead.
	Labels         map[string]any `json:"labels,omitempty"`
	WarmUpDataPath string         `json:"warm_up_data_path,omitempty"`
	Unit           map[string]any `json:"unit,omitempty"`
	Sinker         map[string]any `json:"sinker,omitempty"`
	Confidential   map[string]any `json:"confidential,omitempty"`
	AIMaster       map[string]any `json:"aimaster,omitempty"`
	Autoscaler     map[string]any `json:"autoscaler,omitempty"`
	Cronscaler     map[string]any `json:"cronscaler,omitempty"`
	Features       map[string]any `json:"features,omitempty"`
	// Processor-era keys that do not apply to custom images; kept so
	// `validate --json` round-trips them and warnings can name them.
	Processor          string `json:"processor,omitempty"`
	ProcessorType      string `json:"processor_type,omitempty"`
	ProcessorPath      string `json:"processor_path,omitempty"`
	ProcessorEntry     string `json:"processor_entry,omitempty"`
	ProcessorMainclass string `json:"processor_mainclass,omitempty"`
	ModelPath          string `json:"model_path,omitempty"`
	ModelEntry         string `json:"model_entry,omitempty"`
	ModelConfig        any    `json:"model_config,omitempty"`
	OSSEndpoint        string `json:"oss_endpoint,omitempty"`
	RoleArn            string `json:"role_arn,omitempty"`
}

// Runtime is the top-level runtime section.
type Runtime struct {
	// EnableCrashBlock: a crashed instance is not restarted.
	EnableCrashBlock bool `json:"enable_crash_block,omitempty"`
	BaseImage        any  `json:"base_image,omitempty"`
	CorePattern      any  `json:"core_pattern,omitempty"`
}

// Networking is the networking section (EAS gateways, NLB, ...).
type Networking struct {
	Gateway                 string         `json:"gateway,omitempty"`
	GatewayPolicy           *GatewayPolicy `json:"gateway_policy,omitempty"`
	NLB                     any            `json:"nlb,omitempty"`
	DisableInternetEndpoint any            `json:"disable_internet_endpoint,omitempty"`
	TrafficState            any            `json:"traffic_state,omitempty"`
	Path                    any            `json:"path,omitempty"`
	EnableHTTPS             any            `json:"enable_https,omitempty"`
	EnableHTTP2             any            `json:"enable_http2,omitempty"`
	Nacos                   any            `json:"nacos,omitempty"`
}

// GatewayPolicy holds the shared gateway's service-wide limits.
type GatewayPolicy struct {
	RateLimit        *GatewayLimit `json:"rate_limit,omitempty"`
	ConcurrencyLimit *GatewayLimit `json:"concurrency_limit,omitempty"`
}

// GatewayLimit is one limit of gateway_policy.
type GatewayLimit struct {
	Enable bool `json:"enable,omitempty"`
	Limit  int  `json:"limit,omitempty"`
}

// Metadata is the service-wide part of service.json.
type Metadata struct {
	Name string `json:"name"`
	// Instance is the replica count (default 1).
	Instance int `json:"instance"`
	// CPU is in cores and Memory in MB; both 0 means "no limit".
	CPU               int `json:"cpu,omitempty"`
	Memory            int `json:"memory,omitempty"`
	GPU               int `json:"gpu,omitempty"`
	GPUMemory         int `json:"gpu_memory,omitempty"`
	GPUCorePercentage int `json:"gpu_core_percentage,omitempty"`
	// ShmSize is the size of /dev/shm in GB (0: the runtime's default).
	ShmSize             int              `json:"shm_size,omitempty"`
	Disk                string           `json:"disk,omitempty"`
	WorkspaceID         string           `json:"workspace_id,omitempty"`
	Resource            string           `json:"resource,omitempty"`
	ResourceBurstable   bool             `json:"resource_burstable,omitempty"`
	ResourceRebalancing bool             `json:"resource_rebalancing,omitempty"`
	QoS                 string           `json:"qos,omitempty"`
	CUDA                string           `json:"cuda,omitempty"`
	RDMA                int              `json:"rdma,omitempty"`
	Type                string           `json:"type,omitempty"`
	Group               string           `json:"group,omitempty"`
	Role                string           `json:"role,omitempty"`
	TrafficState        string           `json:"traffic_state,omitempty"`
	Release             string           `json:"release,omitempty"`
	WorkloadType        string           `json:"workload_type,omitempty"`
	QuotaID             string           `json:"quota_id,omitempty"`
	DisableSidecar      bool             `json:"disable_sidecar,omitempty"`
	EnableWebservice    bool             `json:"enable_webservice,omitempty"`
	EnableGRPC          bool             `json:"enable_grpc,omitempty"`
	RPC                 *RPC             `json:"rpc,omitempty"`
	EAS                 *EAS             `json:"eas,omitempty"`
	Scheduling          map[string]any   `json:"scheduling,omitempty"`
	RollingStrategy     *RollingStrategy `json:"rolling_strategy,omitempty"`
}

// RPC holds the engine and gateway settings of metadata.rpc (also
// written rpc.* at the top level).
type RPC struct {
	// Keepalive is the per-request time limit in milliseconds (408 past it).
	Keepalive       int    `json:"keepalive,omitempty"`
	IOThreads       int    `json:"io_threads,omitempty"`
	MaxQueueSize    int    `json:"max_queue_size,omitempty"`
	WorkerThreads   int    `json:"worker_threads,omitempty"`
	RateLimit       int    `json:"rate_limit,omitempty"`
	Batching        bool   `json:"batching,omitempty"`
	MaxBatchSize    int    `json:"max_batch_size,omitempty"`
	MaxBatchTimeout int    `json:"max_batch_timeout,omitempty"`
	ProxyPath       string `json:"proxy_path,omitempty"`
	// EnableSigterm: at Terminating the main process gets SIGTERM.
	EnableSigterm   bool   `json:"enable_sigterm,omitempty"`
	HealthCheckPath string `json:"health_check_path,omitempty"`
	HealthCheckPort int    `json:"health_check_port,omitempty"`
	Retries         any    `json:"retries,omitempty"`
}

// EAS holds metadata.eas.
type EAS struct {
	// TerminationGracePeriod is in seconds; 0 means EAS's default, see
	// Metadata.GracePeriod.
	TerminationGracePeriod int `json:"termination_grace_period,omitempty"`
	Handlers               any `json:"handlers,omitempty"`
	Scheduler              any `json:"scheduler,omitempty"`
}

// RollingStrategy values are an integer or a percentage string ("25%").
type RollingStrategy struct {
	MaxSurge       IntOrPercent `json:"max_surge,omitempty"`
	MaxUnavailable IntOrPercent `json:"max_unavailable,omitempty"`
}

// IntOrPercent is the raw JSON value: a number like 1 or a string like "25%".
type IntOrPercent string

// Cloud is the cloud section: the machine type and the VPC.
type Cloud struct {
	Computing  Computing        `json:"computing"`
	Networking *CloudNetworking `json:"networking,omitempty"`
	Logging    any              `json:"logging,omitempty"`
}

// Computing names the machine type: one instance_type, or an ordered
// list of candidates.
type Computing struct {
	InstanceType                string          `json:"instance_type,omitempty"`
	Instances                   []CloudInstance `json:"instances,omitempty"`
	DisableSpotProtectionPeriod bool            `json:"disable_spot_protection_period,omitempty"`
}

// CloudInstance is one candidate of cloud.computing.instances[].
type CloudInstance struct {
	Type string `json:"type"`
	// SpotPriceLimit (USD per hour) makes it a spot instance.
	SpotPriceLimit any          `json:"spot_price_limit,omitempty"`
	Capacity       IntOrPercent `json:"capacity,omitempty"`
}

// CloudNetworking binds the instances to a VPC.
type CloudNetworking struct {
	VpcID            string `json:"vpc_id,omitempty"`
	VswitchID        string `json:"vswitch_id,omitempty"`
	SecurityGroupID  string `json:"security_group_id,omitempty"`
	DestinationCidrs string `json:"destination_cidrs,omitempty"`
	DefaultRoute     string `json:"default_route,omitempty"`
	VswitchOwner     string `json:"vswitch_owner,omitempty"`
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
	PythonRequirements     []string `json:"pythonRequirements,omitempty"`
	PythonRequirementsPath string   `json:"pythonRequirementsPath,omitempty"`
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
// EmptyDir is reproduced: a fresh directory of the instance, or memory
// (tmpfs) with medium "memory".
type Storage struct {
	MountPath  string         `json:"mount_path"`
	OSS        map[string]any `json:"oss,omitempty"`
	NFS        map[string]any `json:"nfs,omitempty"`
	Git        map[string]any `json:"git,omitempty"`
	Image      map[string]any `json:"image,omitempty"`
	Dataset    map[string]any `json:"dataset,omitempty"`
	EmptyDir   *EmptyDir      `json:"empty_dir,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	ReadOnly   bool           `json:"read_only,omitempty"`
}

// EmptyDir is a directory that starts empty with each instance.
type EmptyDir struct {
	// Medium is "" (the host's disk) or "memory" (tmpfs).
	Medium string `json:"medium,omitempty"`
	// SizeLimit is in GB; for memory it is the tmpfs size (0: half the RAM).
	SizeLimit int `json:"size_limit,omitempty"`
}
