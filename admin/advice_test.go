package admin_test

import (
	"reflect"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
)

type advising struct {
	*admintest.Fake
	rep admin.AdviceReport
}

func (a advising) Advice() admin.AdviceReport { return a.rep }

// GET /v1/advice hands the controller's report to the client unchanged,
// behind the token.
func TestAdviceRoute(t *testing.T) {
	want := admin.AdviceReport{
		Service: "demo",
		Advice:  []admin.Advice{{Container: "c0", Instance: "demo-0", Probe: "liveness", Rule: "slow-start", Risk: true, Message: "startup took 4.1 s"}},
		Observed: []admin.ObservedContainer{{Instance: "demo-0", Container: "c0", Restarts: 1,
			Probes: map[string]admin.ObservedProbe{"liveness": {Succeeded: true, FirstSuccess: 4.1, FailuresBeforeSuccess: 2, Runs: 9, Samples: 9, P50: 0.002, P99: 0.01, Max: 0.01}}}},
	}
	_, c := start(t, advising{admintest.New(demoStatus()), want}, admin.Options{Token: "tok"})
	got, err := c.Advice(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// A Controller without advice answers 404 with a sentence; an empty
// report has [] lists.
func TestAdviceRouteWithoutAdvice(t *testing.T) {
	_, c := start(t, admintest.New(demoStatus()), admin.Options{})
	if _, err := c.Advice(t.Context()); !errdefs.IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
	_, c = start(t, advising{admintest.New(demoStatus()), admin.AdviceReport{Service: "demo"}}, admin.Options{})
	got, err := c.Advice(t.Context())
	if err != nil || got.Advice == nil || got.Observed == nil {
		t.Fatalf("got %+v, %v; want empty lists", got, err)
	}
}
