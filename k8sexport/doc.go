// Package k8sexport turns a parsed service.json (service.Service, with
// its effective values) into Kubernetes manifests that run the same
// service with the same semantics: a Deployment and a Service, built from
// the official k8s.io/api types and written as YAML with sigs.k8s.io/yaml.
//
//	s, _, err := service.Load("service.json")
//	err = k8sexport.Write(os.Stdout, s, k8sexport.Options{Namespace: "prod"})
//
// What is mapped (docs/service-json.md has the EAS side):
//
//   - metadata.instance → replicas; metadata.name (with _ as -) names the
//     objects and the app label.
//   - containers[] → containers c0, c1, ... (the names easlocal uses):
//     image, command split into words or script as /bin/sh -c (both as
//     the container's command, replacing the entrypoint as on EAS), env
//     plus what EAS sets (LISTENING_PORT, POD_NAME from the pod's name,
//     NAMESPACE the service name) unless env sets them, the port.
//   - metadata.cpu and memory (MB) → requests and limits of every
//     container (EAS reserves what it caps); metadata.gpu → an
//     nvidia.com/gpu limit.
//   - The three probes with every field written out, because EAS's
//     defaults are not Kubernetes' (failure_threshold 1 for liveness and
//     startup where Kubernetes would default to 3). Liveness and startup
//     have successThreshold 1, which Kubernetes requires.
//   - rolling_strategy → the RollingUpdate strategy; absent, Kubernetes'
//     25%/25% apply (the header says so).
//   - eas.termination_grace_period (Metadata.GracePeriod) →
//     terminationGracePeriodSeconds. rpc.enable_sigterm false (EAS's
//     default: no SIGTERM, the instance is killed when the grace period
//     ends) becomes a preStop sleep of the whole grace period, so the
//     process gets SIGTERM only at the end (the kubelet then allows 2 s
//     more before SIGKILL); this needs Kubernetes 1.30+ for the sleep
//     action.
//   - storage[]: empty_dir → emptyDir (medium memory → Memory with
//     sizeLimit), metadata.shm_size → a Memory emptyDir at /dev/shm, and
//     every OSS/NAS/Git/image/dataset source → a PersistentVolumeClaim
//     volume whose claim (named in the header) you create.
//   - A ClusterIP Service on the first container's port, the one EAS's
//     gateway sends traffic to.
//
// What Kubernetes has no equivalent for (the gateway's token, 408 after
// rpc.keepalive, 429/450 limits, direct mode, ...) is listed in the
// header comment of the output, for the fields the service uses.
package k8sexport
