package k8sexport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/easlocal/easlocal/service"
)

// Options change what Export builds.
type Options struct {
	// Namespace of every object ("" leaves it to kubectl's context).
	Namespace string
}

// Manifests are the objects of one service and the notes of the header.
type Manifests struct {
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	// Notes are the header lines: what to create (claims), what the
	// defaults mean, what has no Kubernetes equivalent.
	Notes []string
}

// appLabel selects the service's pods.
const appLabel = "app.kubernetes.io/name"

// Export builds the manifests of s, which must come from a successful
// service.Parse (its fields hold effective values).
func Export(s *service.Service, opts Options) (*Manifests, error) {
	if opts.Namespace != "" {
		if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
			return nil, fmt.Errorf("namespace %q is not a Kubernetes namespace name: %s", opts.Namespace, strings.Join(errs, "; "))
		}
	}
	if len(s.Containers) == 0 {
		return nil, errors.New("the service has no containers; export a service.json that easlocal validate accepts")
	}
	name := strings.ReplaceAll(s.Metadata.Name, "_", "-")
	if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
		return nil, fmt.Errorf("metadata.name %q does not make a Kubernetes name (%s): %s", s.Metadata.Name, name, strings.Join(errs, "; "))
	}
	b := &builder{s: s, name: name}
	labels := map[string]string{appLabel: name}
	meta := metav1.ObjectMeta{Name: name, Namespace: opts.Namespace, Labels: labels}

	pod, err := b.podSpec()
	if err != nil {
		return nil, err
	}
	replicas := int32(s.Metadata.Instance)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: b.strategy(),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       pod,
			},
		},
	}
	port := int32(s.Containers[0].Port)
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: *meta.DeepCopy(),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: labels,
			Ports: []corev1.ServicePort{{
				Name: "http", Protocol: corev1.ProtocolTCP,
				Port: port, TargetPort: intstr.FromInt32(port),
			}},
		},
	}
	return &Manifests{Deployment: dep, Service: svc, Notes: b.notes()}, nil
}

// Write writes the manifests of s as one YAML stream: the header comment,
// then the Deployment and the Service.
func Write(w io.Writer, s *service.Service, opts Options) error {
	m, err := Export(s, opts)
	if err != nil {
		return err
	}
	var out strings.Builder
	for _, n := range m.Notes {
		if n == "" {
			out.WriteString("#\n")
			continue
		}
		out.WriteString("# " + n + "\n")
	}
	for _, obj := range []any{m.Deployment, m.Service} {
		y, err := marshal(obj)
		if err != nil {
			return err
		}
		out.WriteString("---\n")
		out.WriteString(annotate(string(y), s))
	}
	_, err = io.WriteString(w, out.String())
	return err
}

// lineComments are put above the YAML lines they explain (matched on
// the trimmed line); the header says the same at more length.
func lineComments(s *service.Service) map[string]string {
	grace := int(s.Metadata.GracePeriod().Seconds())
	c := map[string]string{
		"livenessProbe:":  "EAS's values written out (its failureThreshold default is 1, Kubernetes' 3); successThreshold 1: Kubernetes requires it",
		"startupProbe:":   "EAS's values written out (its failureThreshold default is 1, Kubernetes' 3); successThreshold 1: Kubernetes requires it",
		"readinessProbe:": "EAS's values (health_check), defaults included",
		fmt.Sprintf("terminationGracePeriodSeconds: %d", grace): "metadata.eas.termination_grace_period",
		"lifecycle:": fmt.Sprintf("rpc.enable_sigterm false: no SIGTERM until the %d s grace period is over", grace),
	}
	return c
}

// annotate adds lineComments to a marshalled object.
func annotate(y string, s *service.Service) string {
	comments := lineComments(s)
	var b strings.Builder
	for _, line := range strings.SplitAfter(y, "\n") {
		trimmed := strings.TrimSpace(line)
		if c, ok := comments[trimmed]; ok {
			indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
			b.WriteString(indent + "# " + c + "\n")
		}
		b.WriteString(line)
	}
	return b.String()
}

// marshal writes obj as YAML without its empty status, which only the
// cluster fills.
func marshal(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	return yaml.Marshal(m)
}

// builder holds what the parts of one export share.
type builder struct {
	s    *service.Service
	name string
	// claims lists the PersistentVolumeClaims to create, one note each.
	claims []string
}

func (b *builder) podSpec() (corev1.PodSpec, error) {
	grace := int64(b.s.Metadata.GracePeriod().Seconds())
	spec := corev1.PodSpec{TerminationGracePeriodSeconds: &grace}
	volumes, mounts := b.volumes()
	spec.Volumes = volumes
	for i := range b.s.Containers {
		c, err := b.container(i, mounts)
		if err != nil {
			return spec, err
		}
		spec.Containers = append(spec.Containers, c)
	}
	return spec, nil
}

func (b *builder) container(i int, mounts []corev1.VolumeMount) (corev1.Container, error) {
	sc := &b.s.Containers[i]
	args, err := sc.Args()
	if err != nil {
		return corev1.Container{}, fmt.Errorf("containers[%d]: %w", i, err)
	}
	c := corev1.Container{
		Name:    "c" + strconv.Itoa(i),
		Image:   sc.Image,
		Command: args, // replaces the image's entrypoint and cmd, as on EAS
		Ports:   []corev1.ContainerPort{{Name: portName(i), ContainerPort: int32(sc.Port), Protocol: corev1.ProtocolTCP}},
		Env:     b.env(sc),
		// Filled by the scheduler from the pull, as easlocal and EAS do.
		ImagePullPolicy: corev1.PullIfNotPresent,
		VolumeMounts:    append([]corev1.VolumeMount(nil), mounts...),
		Resources:       b.resources(),
		StartupProbe:    probe(sc.StartupCheck),
		LivenessProbe:   probe(sc.LivenessCheck),
		ReadinessProbe:  probe(sc.HealthCheck),
	}
	if !sigterm(b.s) {
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Sleep: &corev1.SleepAction{Seconds: int64(b.s.Metadata.GracePeriod().Seconds())},
		}}
	}
	return c, nil
}

// portName is unique in the pod, as Kubernetes wants port names to be.
func portName(i int) string {
	if i == 0 {
		return "http"
	}
	return "http-c" + strconv.Itoa(i)
}

func sigterm(s *service.Service) bool { return s.Metadata.RPC != nil && s.Metadata.RPC.EnableSigterm }

// env is the container's env, then what EAS sets in every instance
// (scheduler/config.go does the same locally) unless env sets it.
func (b *builder) env(sc *service.Container) []corev1.EnvVar {
	var out []corev1.EnvVar
	set := map[string]bool{}
	for _, e := range sc.Env {
		out = append(out, corev1.EnvVar{Name: e.Name, Value: e.Value})
		set[e.Name] = true
	}
	if !set["LISTENING_PORT"] {
		out = append(out, corev1.EnvVar{Name: "LISTENING_PORT", Value: strconv.Itoa(sc.Port)})
	}
	if !set["POD_NAME"] {
		out = append(out, corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"},
		}})
	}
	if !set["NAMESPACE"] {
		out = append(out, corev1.EnvVar{Name: "NAMESPACE", Value: b.s.Metadata.Name})
	}
	return out
}

// resources: EAS reserves what it caps, so requests equal limits.
func (b *builder) resources() corev1.ResourceRequirements {
	m := b.s.Metadata
	rl := corev1.ResourceList{}
	if m.CPU > 0 {
		rl[corev1.ResourceCPU] = *resource.NewQuantity(int64(m.CPU), resource.DecimalSI)
	}
	if m.Memory > 0 {
		// Memory is MB of 2^20 bytes, as easlocal's limit counts it.
		rl[corev1.ResourceMemory] = *resource.NewQuantity(int64(m.Memory)<<20, resource.BinarySI)
	}
	if len(rl) == 0 && m.GPU == 0 {
		return corev1.ResourceRequirements{}
	}
	req := rl.DeepCopy()
	if m.GPU > 0 {
		rl["nvidia.com/gpu"] = *resource.NewQuantity(int64(m.GPU), resource.DecimalSI)
	}
	r := corev1.ResourceRequirements{Limits: rl}
	if len(req) > 0 {
		r.Requests = req
	}
	return r
}

// probe writes every field out: the Service holds EAS's effective values,
// which are not Kubernetes' defaults.
func probe(p *service.Probe) *corev1.Probe {
	if p == nil {
		return nil
	}
	out := &corev1.Probe{
		InitialDelaySeconds: int32(p.InitialDelaySeconds),
		PeriodSeconds:       int32(p.PeriodSeconds),
		TimeoutSeconds:      int32(p.TimeoutSeconds),
		SuccessThreshold:    int32(p.SuccessThreshold),
		FailureThreshold:    int32(p.FailureThreshold),
	}
	switch {
	case p.HTTPGet != nil:
		out.HTTPGet = &corev1.HTTPGetAction{Path: p.HTTPGet.Path, Port: intstr.FromInt32(int32(p.HTTPGet.Port)), Scheme: corev1.URISchemeHTTP}
	case p.TCPSocket != nil:
		out.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(p.TCPSocket.Port))}
	case p.Exec != nil:
		out.Exec = &corev1.ExecAction{Command: append([]string(nil), p.Exec.Command...)}
	}
	return out
}

func (b *builder) strategy() appsv1.DeploymentStrategy {
	// EAS's defaults where the file is silent: surge 2% (Kubernetes
	// rounds a surge percentage up, so at least 1, as EAS does) and no
	// instance unavailable.
	surge, unavailable := intstr.FromString("2%"), intstr.FromInt32(0)
	if rs := b.s.Metadata.RollingStrategy; rs != nil {
		if rs.MaxSurge != "" {
			surge = intstr.Parse(string(rs.MaxSurge))
		}
		if rs.MaxUnavailable != "" {
			unavailable = intstr.Parse(string(rs.MaxUnavailable))
		}
	}
	// Kubernetes refuses both at 0; easlocal and EAS then surge by one.
	if surge.IntValue() == 0 && surge.Type == intstr.Int && unavailable.IntValue() == 0 && unavailable.Type == intstr.Int {
		surge = intstr.FromInt32(1)
	}
	return appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
	}
}

// volumes maps storage[] and metadata.shm_size; every container mounts
// every volume, as easlocal and EAS do.
func (b *builder) volumes() ([]corev1.Volume, []corev1.VolumeMount) {
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	shmTaken := false
	for i, st := range b.s.Storage {
		vname := "storage-" + strconv.Itoa(i)
		var src corev1.VolumeSource
		if e := st.EmptyDir; e != nil {
			ed := &corev1.EmptyDirVolumeSource{}
			if strings.EqualFold(e.Medium, "memory") {
				ed.Medium = corev1.StorageMediumMemory
			}
			if e.SizeLimit > 0 {
				q := *resource.NewQuantity(int64(e.SizeLimit)<<30, resource.BinarySI)
				ed.SizeLimit = &q
			}
			src.EmptyDir = ed
		} else {
			claim := b.name + "-" + vname
			src.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: st.ReadOnly}
			b.claims = append(b.claims, fmt.Sprintf("  %s: %s mounted at %s%s", claim, storageSource(st), st.MountPath, ro(st.ReadOnly)))
		}
		if st.MountPath == "/dev/shm" {
			shmTaken = true
		}
		vols = append(vols, corev1.Volume{Name: vname, VolumeSource: src})
		mounts = append(mounts, corev1.VolumeMount{Name: vname, MountPath: st.MountPath, ReadOnly: st.ReadOnly})
	}
	if n := b.s.Metadata.ShmSize; n > 0 && !shmTaken {
		q := *resource.NewQuantity(int64(n)<<30, resource.BinarySI)
		vols = append(vols, corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &q},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "shm", MountPath: "/dev/shm"})
	}
	return vols, mounts
}

func ro(readOnly bool) string {
	if readOnly {
		return " (read-only)"
	}
	return ""
}

// storageSource names the EAS source of a storage entry for the claim's note.
func storageSource(st service.Storage) string {
	for _, src := range []struct {
		kind string
		m    map[string]any
		keys []string
	}{
		{"OSS", st.OSS, []string{"path"}},
		{"NAS (nfs)", st.NFS, []string{"server", "path"}},
		{"Git", st.Git, []string{"repo", "branch"}},
		{"image", st.Image, []string{"image", "path"}},
		{"dataset", st.Dataset, []string{"id", "version"}},
	} {
		if src.m == nil {
			continue
		}
		out := src.kind
		for _, k := range src.keys {
			if v, ok := src.m[k]; ok {
				out += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		return out
	}
	return "a host directory (easlocal's --mount)"
}
