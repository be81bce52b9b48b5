package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
)

func faultClient(t *testing.T, ctrl admin.Controller) *admin.Client {
	srv := httptest.NewServer(admin.NewServer(ctrl, admin.Options{Token: "tok"}))
	t.Cleanup(srv.Close)
	return &admin.Client{BaseURL: srv.URL, Token: "tok"}
}

// The client's faults reach the controller with every field, durations
// included; list, clear one (404 for an unknown one) and clear all work.
func TestFaultsAPI(t *testing.T) {
	fake := admintest.NewFaultFake(demoStatus())
	c := faultClient(t, fake)
	ctx := context.Background()

	id, err := c.InjectFault(ctx, admin.Fault{Instance: "demo-0", Kind: "http_delay", Delay: 200 * time.Millisecond, Percent: 50, First: 5, For: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InjectFault(ctx, admin.Fault{Instance: "demo-1", Kind: admin.FaultLoss, Percent: 30}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListFaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := admin.Fault{ID: id, Instance: "demo-0", Kind: admin.FaultHTTPDelay, Delay: 200 * time.Millisecond, Percent: 50, First: 5, For: 5 * time.Second,
		Started: admintest.FaultStarted, Ends: time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)}
	if len(list) != 2 || list[0] != want {
		t.Fatalf("ListFaults = %+v, want first %+v", list, want)
	}
	if err := c.ClearFault(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.ClearFault(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("clearing a cleared fault: %v, want not found", err)
	}
	if err := c.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.ListFaults(ctx); len(list) != 0 {
		t.Errorf("after ClearFaults: %+v", list)
	}
}

// The contract's JSON: durations as strings, the answer {"id": ...}.
func TestFaultsJSON(t *testing.T) {
	fake := admintest.NewFaultFake(demoStatus())
	c := faultClient(t, fake)
	req, _ := http.NewRequest("POST", c.BaseURL+"/v1/faults", strings.NewReader(`{"instance": "demo-0", "kind": "http-abort", "status": 503, "first": 5, "for": "5s"}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || out["id"] == "" {
		t.Fatalf("answer %d %v", resp.StatusCode, out)
	}
	got := fake.Faults()[0]
	if got.Kind != admin.FaultHTTPAbort || got.Status != 503 || got.First != 5 || got.For != 5*time.Second {
		t.Errorf("controller got %+v", got)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"for":"5s"`) || !strings.Contains(string(b), `"ends":"2026-12-01T10:00:05Z"`) {
		t.Errorf("listed as %s", b)
	}
}

// Bad faults are refused with a sentence naming the field, on the
// client and (for what a client without checks sends) on the server.
func TestFaultsValidation(t *testing.T) {
	fake := admintest.NewFaultFake(demoStatus())
	c := faultClient(t, fake)
	ctx := context.Background()
	for _, tc := range []struct {
		f    admin.Fault
		want string
	}{
		{admin.Fault{Instance: "demo-0", Kind: "jam"}, `fault kind "jam": use one of blackhole`},
		{admin.Fault{Kind: admin.FaultBlackhole}, "name an instance"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultLoss}, "percent from 1 to 100"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultLoss, Percent: 130}, "percent 130"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultHTTPDelay}, "delay, e.g. 200ms"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultHTTPAbort}, "either a status"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultHTTPAbort, Status: 42}, "status 42"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultKill, For: time.Second}, "for does not apply"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultBlackhole, First: 3}, "http-delay and http-abort only"},
		{admin.Fault{Instance: "demo-0", Kind: admin.FaultBandwidth}, "give a rate"},
	} {
		_, err := c.InjectFault(ctx, tc.f)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	for body, want := range map[string]string{
		`{"instance": "demo-0", "kind": "loss"}`:                        "percent from 1 to 100",
		`{"instance": "demo-0", "kind": "http-delay", "delay": "soon"}`: `delay "soon"`,
		`{"instance": "demo-0", "kind": "reject", "colour": "red"}`:     "unknown field",
	} {
		req, _ := http.NewRequest("POST", c.BaseURL+"/v1/faults", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(eb.Error, want) {
			t.Errorf("%s: %d %q, want 400 with %q", body, resp.StatusCode, eb.Error, want)
		}
	}
	if len(fake.Faults()) != 0 {
		t.Errorf("invalid faults reached the controller: %+v", fake.Faults())
	}
}

// A controller without faults answers 501, not a panic or a 404.
func TestFaultsNotSupported(t *testing.T) {
	c := faultClient(t, admintest.New(demoStatus()))
	_, err := c.ListFaults(context.Background())
	if !errdefs.IsNotImplemented(err) {
		t.Errorf("ListFaults on a plain controller: %v, want not implemented", err)
	}
}

// Effect names a fault's kind and the setting that sizes it: the words
// the CLI's fault lines and the session's fault events both use.
func TestFaultEffect(t *testing.T) {
	for want, f := range map[string]admin.Fault{
		"blackhole":        {Kind: admin.FaultBlackhole},
		"loss 30%":         {Kind: admin.FaultLoss, Percent: 30},
		"bandwidth 1mbit":  {Kind: admin.FaultBandwidth, Rate: "1mbit"},
		"http-delay 200ms": {Kind: admin.FaultHTTPDelay, Delay: 200 * time.Millisecond, Percent: 50},
		"http-abort 503":   {Kind: admin.FaultHTTPAbort, Status: 503},
		"http-abort reset": {Kind: admin.FaultHTTPAbort, Reset: true},
	} {
		if got := f.Effect(); got != want {
			t.Errorf("%+v: Effect() = %q, want %q", f, got, want)
		}
	}
}

// The fault routes are behind the token like every other API route:
// without it nothing is injected, listed or cleared.
func TestFaultsNeedToken(t *testing.T) {
	fake := admintest.NewFaultFake(demoStatus())
	c := faultClient(t, fake)
	if _, err := c.InjectFault(context.Background(), admin.Fault{Instance: "demo-1", Kind: admin.FaultLoss, Percent: 30}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/faults", `{"instance":"demo-0","kind":"blackhole"}`},
		{"GET", "/v1/faults", ""},
		{"DELETE", "/v1/faults/f1", ""},
		{"DELETE", "/v1/faults", ""},
	} {
		for _, token := range []string{"", "wrong"} {
			req, _ := http.NewRequest(tc.method, c.BaseURL+tc.path, strings.NewReader(tc.body))
			if token != "" {
				req.Header.Set("X-Easlocal-Token", token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q = %d, want 401", tc.method, tc.path, token, resp.StatusCode)
			}
		}
	}
	if list := fake.Faults(); len(list) != 1 || list[0].Instance != "demo-1" {
		t.Errorf("faults after unauthenticated calls: %+v, want only the one injected with the token", list)
	}
}
