package k8sexport

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/easlocal/easlocal/service"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.yaml")

// cases are every example service and the rich ones of testdata.
func cases(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	examples, err := filepath.Glob("../examples/*/service.json")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example service.json found: %v", err)
	}
	for _, p := range examples {
		out["example-"+filepath.Base(filepath.Dir(p))] = p
	}
	for _, n := range []string{"rich", "rich-sigterm"} {
		out[n] = filepath.Join("testdata", n+".json")
	}
	return out
}

func load(t *testing.T, path string) *service.Service {
	t.Helper()
	s, _, err := service.Load(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func TestGolden(t *testing.T) {
	for name, path := range cases(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, load(t, path), Options{Namespace: "eas"}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./k8sexport -update writes it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("%s differs from %s (go test ./k8sexport -update rewrites it); got:\n%s", path, golden, got)
			}
		})
	}
}

// decodeStrict splits the stream and decodes each document into its
// typed object, refusing unknown and duplicate fields.
func decodeStrict(t *testing.T, stream string) (*appsv1.Deployment, *corev1.Service) {
	t.Helper()
	docs := strings.Split(stream, "\n---\n")
	if len(docs) != 3 {
		t.Fatalf("want a header and 2 documents, got %d parts:\n%s", len(docs), stream)
	}
	for _, line := range strings.Split(strings.TrimSpace(docs[0]), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Fatalf("header line %q is not a comment", line)
		}
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &dep); err != nil {
		t.Fatalf("Deployment does not decode strictly: %v\n%s", err, docs[1])
	}
	var svc corev1.Service
	if err := yaml.UnmarshalStrict([]byte(docs[2]), &svc); err != nil {
		t.Fatalf("Service does not decode strictly: %v\n%s", err, docs[2])
	}
	if dep.APIVersion != "apps/v1" || dep.Kind != "Deployment" || svc.APIVersion != "v1" || svc.Kind != "Service" {
		t.Fatalf("type meta: %v, %v", dep.TypeMeta, svc.TypeMeta)
	}
	return &dep, &svc
}

// TestRoundTripStrict: every manifest decodes strictly into the typed
// objects and gives back exactly what Export built.
func TestRoundTripStrict(t *testing.T) {
	for name, path := range cases(t) {
		t.Run(name, func(t *testing.T) {
			s := load(t, path)
			m, err := Export(s, Options{Namespace: "eas"})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, s, Options{Namespace: "eas"}); err != nil {
				t.Fatal(err)
			}
			dep, svc := decodeStrict(t, buf.String())
			if !apiequality.Semantic.DeepEqual(dep, m.Deployment) {
				t.Errorf("Deployment changed in the round trip:\n got %+v\nwant %+v", dep.Spec, m.Deployment.Spec)
			}
			if !apiequality.Semantic.DeepEqual(svc, m.Service) {
				t.Errorf("Service changed in the round trip:\n got %+v\nwant %+v", svc.Spec, m.Service.Spec)
			}
			if got := svc.Spec.Ports[0].TargetPort.IntValue(); got != s.Containers[0].Port {
				t.Errorf("Service targets port %d, the service serves on %d", got, s.Containers[0].Port)
			}
		})
	}
}

// The strict decoder really refuses what the typed objects do not have,
// so the round trip above proves the field names.
func TestStrictDecoderRefusesUnknownFields(t *testing.T) {
	var dep appsv1.Deployment
	err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n"), &dep)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func parse(t *testing.T, js string) *service.Service {
	t.Helper()
	s, _, err := service.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// exportMeta exports a one-container service whose metadata holds, beside
// its name, the fields meta (`"instance": 1, ...`).
func exportMeta(t *testing.T, meta string) *Manifests {
	t.Helper()
	m, err := Export(oneContainer(t, meta), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// oneContainer parses a service with one container of image img:1 and
// the metadata fields meta beside its name.
func oneContainer(t *testing.T, meta string) *service.Service {
	t.Helper()
	return parse(t, `{"metadata": {"name": "svc", `+meta+`}, "containers": [{"image": "img:1"}]}`)
}

// A probe without timing fields exports EAS's defaults, not Kubernetes'.
func TestProbeDefaultsAreEAS(t *testing.T) {
	s := parse(t, `{"metadata": {"name": "svc", "instance": 1}, "containers": [{"image": "img:1",
		"startup_check": {"http_get": {"path": "/s"}},
		"liveness_check": {"tcp_socket": {}},
		"health_check": {"exec": {"command": ["true"]}}}]}`)
	m, err := Export(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Deployment.Spec.Template.Spec.Containers[0]
	for _, tc := range []struct {
		kind    string
		p       *corev1.Probe
		failure int32
	}{{"startup", c.StartupProbe, 1}, {"liveness", c.LivenessProbe, 1}, {"readiness", c.ReadinessProbe, 3}} {
		want := corev1.Probe{PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: tc.failure}
		got := *tc.p
		got.ProbeHandler = corev1.ProbeHandler{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s probe timing %+v, want EAS's %+v", tc.kind, got, want)
		}
	}
	if p := c.StartupProbe.HTTPGet; p == nil || p.Path != "/s" || p.Port.IntValue() != 8000 {
		t.Errorf("startup http_get %+v: want /s on the container's port 8000", p)
	}
	if p := c.LivenessProbe.TCPSocket; p == nil || p.Port.IntValue() != 8000 {
		t.Errorf("liveness tcp_socket %+v: want the container's port", p)
	}
}

// rpc.enable_sigterm false keeps the process untouched for the grace
// period (preStop sleep); true lets SIGTERM come at once.
func TestSigtermAndGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name      string
		meta      string
		grace     int64
		wantSleep bool
	}{
		{"default", `"instance": 1`, 30, true},
		{"grace 90, no sigterm", `"instance": 1, "eas.termination_grace_period": 90, "rpc.enable_sigterm": false`, 90, true},
		{"sigterm", `"instance": 1, "eas.termination_grace_period": 45, "rpc": {"enable_sigterm": true}`, 45, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := exportMeta(t, tc.meta)
			pod := m.Deployment.Spec.Template.Spec
			if g := pod.TerminationGracePeriodSeconds; g == nil || *g != tc.grace {
				t.Errorf("terminationGracePeriodSeconds %v, want %d", g, tc.grace)
			}
			lc := pod.Containers[0].Lifecycle
			switch {
			case tc.wantSleep && (lc == nil || lc.PreStop == nil || lc.PreStop.Sleep == nil || lc.PreStop.Sleep.Seconds != tc.grace):
				t.Errorf("lifecycle %+v: want a preStop sleep of %d s", lc, tc.grace)
			case !tc.wantSleep && lc != nil:
				t.Errorf("lifecycle %+v: want none (SIGTERM at once)", lc)
			}
		})
	}
}

func TestStorageAndShm(t *testing.T) {
	m, err := Export(load(t, "testdata/rich.json"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	vols := map[string]corev1.Volume{}
	for _, v := range m.Deployment.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	if v := vols["storage-0"].PersistentVolumeClaim; v == nil || v.ClaimName != "rich-svc-storage-0" || !v.ReadOnly {
		t.Errorf("OSS storage: %+v, want a read-only claim rich-svc-storage-0", v)
	}
	if v := vols["storage-3"].EmptyDir; v == nil || v.Medium != corev1.StorageMediumMemory || v.SizeLimit.String() != "2Gi" {
		t.Errorf("memory empty_dir: %+v, want medium Memory, sizeLimit 2Gi", v)
	}
	if v := vols["storage-2"].EmptyDir; v == nil || v.Medium != "" || v.SizeLimit.String() != "20Gi" {
		t.Errorf("disk empty_dir: %+v, want sizeLimit 20Gi on disk", v)
	}
	if v := vols["shm"].EmptyDir; v == nil || v.Medium != corev1.StorageMediumMemory || v.SizeLimit.String() != "4Gi" {
		t.Errorf("shm_size: %+v, want a 4Gi Memory emptyDir", v)
	}
	for _, c := range m.Deployment.Spec.Template.Spec.Containers {
		if len(c.VolumeMounts) != 6 {
			t.Errorf("container %s mounts %d volumes, want all 6", c.Name, len(c.VolumeMounts))
		}
	}
	header := strings.Join(m.Notes, "\n")
	for _, claim := range []string{"rich-svc-storage-0", "rich-svc-storage-1", "rich-svc-storage-4"} {
		if !strings.Contains(header, claim) {
			t.Errorf("header does not name claim %s:\n%s", claim, header)
		}
	}
}

func TestBadNamespace(t *testing.T) {
	if _, err := Export(oneContainer(t, `"instance": 1`), Options{Namespace: "Prod_1"}); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Fatalf("bad namespace accepted: %v", err)
	}
}

// rolling_strategy becomes the RollingUpdate strategy with EAS's defaults
// written out for what the file omits: surge 2% (at least 1 once
// Kubernetes rounds up), none unavailable; both 0 becomes a surge of 1,
// as easlocal's update does, since Kubernetes refuses it.
func TestRollingStrategyDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, meta         string
		surge, unavailable string
	}{
		{"absent", `"instance": 3`, "2%", "0"},
		{"surge only", `"instance": 3, "rolling_strategy": {"max_surge": 2}`, "2", "0"},
		{"unavailable only", `"instance": 3, "rolling_strategy": {"max_unavailable": "50%"}`, "2%", "50%"},
		{"both zero", `"instance": 3, "rolling_strategy": {"max_surge": 0, "max_unavailable": 0}`, "1", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := exportMeta(t, tc.meta)
			ru := m.Deployment.Spec.Strategy.RollingUpdate
			if ru == nil || ru.MaxSurge.String() != tc.surge || ru.MaxUnavailable.String() != tc.unavailable {
				t.Errorf("rolling update %+v, want maxSurge %s maxUnavailable %s", ru, tc.surge, tc.unavailable)
			}
		})
	}
}
