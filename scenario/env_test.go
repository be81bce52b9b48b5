package scenario

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
)

// The injector sends each kind through the faults API with its fields,
// without a duration (the runner ends faults itself), and gives kill no
// id to clear.
func TestAPIInjector(t *testing.T) {
	ctrl := admintest.NewFaultFake(admin.ServiceStatus{Name: "demo"})
	srv := admin.NewServer(ctrl, admin.Options{Token: "t0k"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	inj := apiInjector{admin.NewClient(admin.Entry{AdminURL: srv.URL(), AdminToken: "t0k"})}
	ctx := context.Background()
	for _, k := range Kinds {
		if !inj.Supports(k) {
			t.Errorf("%s is not supported", k)
		}
	}
	id, err := inj.Inject(ctx, Fault{Kind: HTTPAbort, Reset: true, Percent: 20, For: 5 * time.Second}, "")
	if err != nil || id == "" {
		t.Fatalf("http-abort: id %q, %v", id, err)
	}
	if kid, err := inj.Inject(ctx, Fault{Kind: Kill}, "demo-0"); err != nil || kid != "" {
		t.Errorf("kill: id %q, %v; want no id (nothing to clear)", kid, err)
	}
	if _, err := inj.Inject(ctx, Fault{Kind: Bandwidth, Rate: "1mbit"}, "demo-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := inj.Inject(ctx, Fault{Kind: HTTPDelay, Delay: 200 * time.Millisecond, First: 3}, "demo-2"); err != nil {
		t.Fatal(err)
	}
	if err := inj.Clear(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := inj.Clear(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("clearing twice: %v, want not found (the runner ignores it)", err)
	}
	if err := inj.ClearAll(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`inject http-abort  status=0 reset=true percent=20 first=0 delay=0s rate="" for=0s`,
		`inject kill demo-0 status=0 reset=false percent=0 first=0 delay=0s rate="" for=0s`,
		`inject bandwidth demo-1 status=0 reset=false percent=0 first=0 delay=0s rate="1mbit" for=0s`,
		`inject http-delay demo-2 status=0 reset=false percent=0 first=3 delay=200ms rate="" for=0s`,
		"clear f1",
		"clear all",
	}
	if got := ctrl.Calls(); !slices.Equal(got, want) {
		t.Errorf("the service got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadOptions(t *testing.T) {
	sc := Scenario{Load: Load{Rate: 5, Method: "POST", Path: "/predict", Headers: [][2]string{{"X-A", "1"}}, Body: "{}",
		Duration: time.Second, Timeout: 2 * time.Second, Mode: Gateway}}
	o, err := loadOptions(sc, "demo", "http://0.0.0.0:9000", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Targets, []string{"127.0.0.1:9000"}) || o.Path != "/api/predict/demo/predict" || o.Method != "POST" ||
		string(o.Body) != "{}" || o.Rate != 5 || o.Timeout != 2*time.Second {
		t.Errorf("gateway options %+v", o)
	}
	if !slices.Equal(o.Headers, [][2]string{{"X-A", "1"}, {"Authorization", "s3cret"}}) {
		t.Errorf("headers %v, want the scenario's and the gateway token", o.Headers)
	}
	sc.Load.Headers = [][2]string{{"authorization", "mine"}}
	if o, _ := loadOptions(sc, "demo", "http://127.0.0.1:9000", "s3cret"); len(o.Headers) != 1 {
		t.Errorf("headers %v: the scenario's own Authorization must win", o.Headers)
	}
	sc.Load.Mode = Direct
	if o, _ := loadOptions(sc, "demo", "http://127.0.0.1:9000", ""); o.Path != "/predict" || len(o.Targets) != 0 {
		t.Errorf("direct options %+v, want the bare path and targets from the endpoints", o)
	}
}

// endpointsOnly is an Observer with a changing endpoint list.
type endpointsOnly struct {
	Observer
	mu  sync.Mutex
	eps []admin.Endpoint
	err error
}

func (e *endpointsOnly) Endpoints(context.Context) ([]admin.Endpoint, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.eps, e.err
}

func (e *endpointsOnly) set(eps []admin.Endpoint, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.eps, e.err = eps, err
}

// Direct mode follows the endpoints at each refresh and keeps the last
// list when the control API does not answer, as an SDK would.
func TestDirectTargetsFollow(t *testing.T) {
	synctestRun(t, func(t *testing.T) {
		obs := &endpointsOnly{eps: []admin.Endpoint{{IP: "10.0.0.1", Port: 8000}, {IP: "10.0.0.2", Port: 8000}}}
		var d directTargets
		d.refresh(t.Context(), obs)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); d.follow(ctx, obs, time.Second) }()
		if got := d.get(); !slices.Equal(got, []string{"10.0.0.1:8000", "10.0.0.2:8000"}) {
			t.Errorf("targets %v", got)
		}
		obs.set([]admin.Endpoint{{IP: "10.0.0.2", Port: 8000}}, nil)
		time.Sleep(500 * time.Millisecond)
		if len(d.get()) != 2 {
			t.Errorf("targets %v changed before the refresh", d.get())
		}
		time.Sleep(time.Second)
		if got := d.get(); !slices.Equal(got, []string{"10.0.0.2:8000"}) {
			t.Errorf("targets %v after the refresh, want 10.0.0.2 only", got)
		}
		obs.set(nil, fmt.Errorf("control API gone"))
		time.Sleep(2 * time.Second)
		if got := d.get(); !slices.Equal(got, []string{"10.0.0.2:8000"}) {
			t.Errorf("targets %v when the API failed, want the last list", got)
		}
		cancel()
		<-done
	})
}
