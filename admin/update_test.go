package admin_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
)

// updatable is a fake controller that takes updates.
type updatable struct {
	*admintest.Fake
	mu   sync.Mutex
	reqs []admin.UpdateRequest
	err  error
}

func (u *updatable) Update(ctx context.Context, req admin.UpdateRequest) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = append(u.reqs, req)
	return 2, u.err
}

func (u *updatable) Restart(ctx context.Context, req admin.UpdateRequest) (int, error) {
	return u.Update(ctx, req)
}

// The service.json and the timeout cross the API as sent; the revision
// and errors (with their class) come back.
func TestUpdateRoute(t *testing.T) {
	u := &updatable{Fake: admintest.New(admin.ServiceStatus{Name: "demo"})}
	_, c := start(t, u, admin.Options{Token: "tok"})
	ctx := context.Background()
	svc := `{"metadata":{"name":"demo"}}`
	a, err := c.Update(ctx, admin.UpdateRequest{Service: svc, File: "s.json", Timeout: "1m"})
	if err != nil || a.Revision != 2 {
		t.Fatalf("Update = %+v, %v", a, err)
	}
	if len(u.reqs) != 1 || u.reqs[0].Service != svc || u.reqs[0].Timeout != "1m" || u.reqs[0].File != "s.json" {
		t.Errorf("the controller got %+v", u.reqs)
	}
	if _, err := c.Update(ctx, admin.UpdateRequest{}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "service.json") {
		t.Errorf("an update without a service.json: %v", err)
	}
	if _, err := c.Restart(ctx, admin.UpdateRequest{}); err != nil {
		t.Errorf("Restart: %v", err)
	}
	u.err = errdefs.ErrInvalidArgument.WithMessage("bad max_surge")
	if _, err := c.Update(ctx, admin.UpdateRequest{Service: svc}); !errdefs.IsInvalidArgument(err) || err.Error() != "bad max_surge" {
		t.Errorf("a refused update: %v", err)
	}
	if d, err := (admin.UpdateRequest{Timeout: "soon"}).TimeoutDuration(); err == nil {
		t.Errorf("timeout \"soon\" parsed as %s", d)
	}
}

// A controller without updates answers 501 with a sentence.
func TestUpdateNotSupported(t *testing.T) {
	_, c := start(t, admintest.New(admin.ServiceStatus{Name: "demo"}), admin.Options{})
	_, err := c.Update(context.Background(), admin.UpdateRequest{Service: `{}`})
	if !errdefs.IsNotImplemented(err) {
		t.Errorf("Update on a controller without updates: %v", err)
	}
}

// The update routes want the token like every action.
func TestUpdateNeedsToken(t *testing.T) {
	u := &updatable{Fake: admintest.New(admin.ServiceStatus{Name: "demo"})}
	srv, _ := start(t, u, admin.Options{Token: "tok"})
	c := &admin.Client{BaseURL: srv.URL()}
	if _, err := c.Update(context.Background(), admin.UpdateRequest{Service: `{}`}); !errdefs.IsUnauthorized(err) {
		t.Errorf("update without the token: %v", err)
	}
	if _, err := c.Restart(context.Background(), admin.UpdateRequest{}); !errdefs.IsUnauthorized(err) {
		t.Errorf("restart without the token: %v", err)
	}
	if len(u.reqs) != 0 {
		t.Errorf("the controller was called: %+v", u.reqs)
	}
}

// LiveReady leaves terminating instances out of both counts: an update's
// max_surge and max_unavailable bound the others.
func TestLiveReady(t *testing.T) {
	st := admin.ServiceStatus{Instances: []admin.InstanceStatus{
		{Name: "a", State: "Running", Ready: true},
		{Name: "b", State: "Starting"},
		{Name: "c", State: "Terminating", Ready: true},
		{Name: "d", State: "Running", Ready: true},
	}}
	if live, ready := st.LiveReady(); live != 3 || ready != 2 {
		t.Errorf("LiveReady() = %d, %d; want 3 live, 2 ready", live, ready)
	}
}
