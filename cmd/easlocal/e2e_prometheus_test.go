package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// Debian's prometheus scrapes a running service through the documented
// docs/prometheus.yml (only the address, the service label and the
// interval changed): the target is up without any token in the config, and
// a probe metric, a gateway request metric and the per-instance readiness
// (honor_labels keeps easlocal's instance label) come back through
// Prometheus's query API. The rest of the control API still wants the
// token on the fixed address, and bash completion offers the running
// instance.
func TestE2EPrometheusScrapes(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_prom", "gateway")
	promBin := testutil.NeedProgram(t, "prometheus")
	adminAddr := freeLoopbackAddr(t)
	s.up("--admin-listen", adminAddr)
	if e := s.entry(); e.AdminURL != "http://"+adminAddr {
		t.Fatalf("registry entry: control API at %s, want http://%s", e.AdminURL, adminAddr)
	}
	if code, body := get(t, "http://"+adminAddr+"/v1/status"); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/status without the token on --admin-listen: %d %s, want 401", code, body)
	}
	const requests = 5
	for range requests {
		if code, body := get(t, s.predict("/")); code != 200 {
			t.Fatalf("GET through the gateway: %d %s", code, body)
		}
	}
	instance := s.ps().Instances[0].Name

	// Bash completion of the real binary offers the running instance.
	bin := t.TempDir()
	if err := os.Symlink(e2e.bin, filepath.Join(bin, "easlocal")); err != nil {
		t.Fatal(err)
	}
	script := easlocal(t, time.Minute, nil, "completion", "bash")
	env := binEnv("PATH="+bin+":"+os.Getenv("PATH"), "EASLOCAL_REGISTRY_DIR="+s.reg)
	if got := bashComplete(t, env, script.out, "easlocal kill "+s.name+" "); !slices.Contains(got, instance) {
		t.Errorf("bash completion of `easlocal kill %s ` = %q, want %s among them", s.name, got, instance)
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	yml := string(b)
	for _, r := range [][2]string{
		{`"127.0.0.1:9101"`, `"` + adminAddr + `"`},
		{"service: demo", "service: " + s.name},
		{"scrape_interval: 15s", "scrape_interval: 1s"},
	} {
		if !strings.Contains(yml, r[0]) {
			t.Fatalf("docs/prometheus.yml no longer contains %q; adapt this test to the documented config", r[0])
		}
		yml = strings.Replace(yml, r[0], r[1], 1)
	}
	if err := os.WriteFile(conf, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeLoopbackAddr(t)
	var promOut bytes.Buffer
	cmd := exec.Command(promBin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &promOut, &promOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", promOut.String())
		}
	})

	sel := fmt.Sprintf(`service=%q`, s.name)
	for _, q := range []struct {
		query string
		min   float64
	}{
		{`up{job="easlocal",` + sel + `}`, 1},
		{`easlocal_prober_probe_total{probe_type="readiness",result="successful",` + sel + `}`, 1},
		{`easlocal_gateway_requests_total{code="200",` + sel + `}`, requests},
		{fmt.Sprintf(`easlocal_instance_ready{instance=%q,%s}`, instance, sel), 1},
	} {
		promQuery(t, promAddr, q.query, q.min, exited)
	}
}

// promQuery polls Prometheus's /api/v1/query until query answers one
// series of at least min (or fails after 40 s, or when prometheus exits).
func promQuery(t *testing.T, addr, query string, min float64, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited (%v) before %s answered", err, query)
		default:
		}
		v, detail, ok := promValue(addr, query)
		if ok && v >= min {
			t.Logf("prometheus: %s = %g", query, v)
			return
		}
		last = detail
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus: %s did not reach %g within 40s; last answer: %s", query, min, last)
}

// promValue asks Prometheus for query's instant value (one series).
func promValue(addr, query string) (float64, string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/api/v1/query?query="+url.QueryEscape(query), nil)
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, err.Error(), false
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Sprintf("status %d, undecodable answer: %v", resp.StatusCode, err), false
	}
	detail := fmt.Sprintf("status %d %s %s %+v", resp.StatusCode, body.Status, body.Error, body.Data.Result)
	if body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, detail, false
	}
	raw, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(raw, 64)
	return v, detail, err == nil
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago, for programs that need a fixed address up front.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The binary built as `make build` builds it names the commit it was
// built from (the working tree's HEAD, "+dirty" with uncommitted changes).
func TestE2EVersionCommit(t *testing.T) {
	t.Parallel()
	needE2E(t)
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	want := strings.TrimSpace(string(head))
	r := easlocal(t, time.Minute, nil, "version")
	if r.code != 0 || !strings.Contains(r.out, "(commit "+want) {
		t.Errorf("easlocal version: %s\nwant commit %s", r, want)
	}
	r = easlocal(t, time.Minute, nil, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || !strings.HasPrefix(v.Commit, want) {
		t.Errorf("easlocal version --json: %v\n%s\nwant commit %s", err, r, want)
	}
}
