package runtime

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
	"github.com/rs/zerolog"
)

// The integration tests run against a real containerd (the system one or
// easlocal's private one, started on demand), real runc and real CNI.
// They need root. With -short they are skipped; when CI=true and the
// runtime cannot be set up, the package fails instead of skipping.

var (
	testRT    *Runtime // shared by the integration tests
	testSetup error    // why testRT is nil
	testImage string   // the example image, loaded from a docker-save archive
)

// testImageEnv is baked into the example image so tests can check that
// service env comes after image env.
var testImageEnv = []string{"IMAGE_ONLY=from-image", "OVERRIDDEN=from-image"}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		testSetup = setupIntegration()
		if testSetup != nil {
			if os.Getenv("CI") == "true" {
				fmt.Fprintf(os.Stderr, "FAIL: runtime integration tests cannot run and CI=true: %v\n", testSetup)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "runtime: skipping integration tests: %v\n", testSetup)
		}
	}
	code := m.Run()
	if testRT != nil {
		testRT.Close()
	}
	os.Exit(code)
}

func setupIntegration() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rt, err := New(ctx, Config{}, testLogger())
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "easlocal-runtime-test")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	names, err := buildAndLoad(ctx, rt, dir, build.Options{Ref: "easlocal.local/example:runtime-test", Shell: true, Env: testImageEnv})
	if err != nil {
		return err
	}
	testImage = names[0]
	testRT = rt
	return nil
}

// buildAndLoad builds the example image as opts say into an archive in
// dir and loads that into rt's containerd; it returns the loaded names.
func buildAndLoad(ctx context.Context, rt *Runtime, dir string, opts build.Options) ([]string, error) {
	opts.Out = filepath.Join(dir, "example.tar")
	opts.Dir = moduleRoot()
	if err := build.Build(ctx, opts); err != nil {
		return nil, fmt.Errorf("build the example image: %w", err)
	}
	f, err := os.Open(opts.Out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := rt.Load(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("load the example image: %w", err)
	}
	return names, nil
}

// moduleRoot is where `go build` of the example resolves its import path.
func moduleRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func testLogger() zerolog.Logger {
	if os.Getenv("EASLOCAL_TEST_LOG") != "" {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
	}
	return zerolog.Nop()
}

// needRuntime returns the shared runtime, or skips (fails under CI=true).
func needRuntime(t testing.TB) *Runtime {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs root and containerd (run without -short)")
	}
	if testSetup != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("runtime unavailable: %v", testSetup)
		}
		t.Skipf("runtime unavailable: %v", testSetup)
	}
	return testRT
}

// testService gives a test its own service name, removes leftovers of an
// earlier run of the same test and everything again at the end.
func testService(t testing.TB, rt *Runtime, name string) string {
	t.Helper()
	// The pid keeps two test processes on one machine (two people, or a
	// test run beside CI) from removing each other's services.
	svc := fmt.Sprintf("t_%s_%d", name, os.Getpid())
	if err := rt.Cleanup(context.Background(), svc); err != nil {
		t.Fatalf("cleanup before test: %v", err)
	}
	t.Cleanup(func() {
		if err := rt.Cleanup(context.Background(), svc); err != nil {
			t.Errorf("cleanup after test: %v", err)
		}
	})
	return svc
}

// parallelService is how most integration tests begin: t runs in
// parallel, with the shared runtime, a service of its own (testService)
// and a context that ends with it (testCtx).
func parallelService(t *testing.T, name string) (*Runtime, string, context.Context) {
	t.Helper()
	t.Parallel()
	rt := needRuntime(t)
	return rt, testService(t, rt, name), testCtx(t)
}

// parallelPod is parallelService with the service's first pod, <svc>-0.
func parallelPod(t *testing.T, name string) (*Runtime, string, *Pod, context.Context) {
	t.Helper()
	rt, svc, ctx := parallelService(t, name)
	return rt, svc, mustPod(t, rt, svc, svc+"-0"), ctx
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// appContainer runs the example app serving on port.
func appContainer(pod *Pod, name string, port int, extraEnv ...string) ContainerConfig {
	env := []string{
		fmt.Sprintf("LISTENING_PORT=%d", port),
		"POD_NAME=" + pod.Instance,
		"NAMESPACE=" + pod.Service,
	}
	return ContainerConfig{Name: name, Image: testImage, Env: append(env, extraEnv...)}
}

// httpClient talks to instances directly: no proxy from the environment.
var httpClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// waitHTTP polls url until it answers 200 and returns the body.
func waitHTTP(t testing.TB, url string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s did not answer 200 within %s: %v", url, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// instanceOf decodes the example app's answer and returns the instance
// it names.
func instanceOf(t testing.TB, body string) string {
	t.Helper()
	var v struct {
		Instance string `json:"instance"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode answer %q: %v", body, err)
	}
	return v.Instance
}

func mustPod(t testing.TB, rt *Runtime, svc, inst string) *Pod {
	t.Helper()
	pod, err := rt.CreatePod(testCtx(t), PodConfig{Service: svc, Instance: inst})
	if err != nil {
		t.Fatalf("CreatePod %s: %v", inst, err)
	}
	return pod
}

func mustStart(t testing.TB, rt *Runtime, pod *Pod, cfg ContainerConfig) *Container {
	t.Helper()
	c, err := rt.StartContainer(testCtx(t), pod, cfg)
	if err != nil {
		t.Fatalf("StartContainer %s/%s: %v", pod.Instance, cfg.Name, err)
	}
	return c
}

func mustExec(t testing.TB, rt *Runtime, c *Container, args ...string) string {
	t.Helper()
	res, err := rt.Exec(testCtx(t), c, args, 10*time.Second)
	if err != nil {
		t.Fatalf("exec %v: %v", args, err)
	}
	if res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("exec %v: exit %d, timed out %v, output %q", args, res.ExitCode, res.TimedOut, res.Output)
	}
	return strings.TrimSpace(string(res.Output))
}
