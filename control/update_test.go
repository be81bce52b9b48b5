package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/events"
)

// rolling is a fake service whose update ends at once in phase.
type rolling struct {
	*admintest.Fake
	phase, message string
	got            []admin.UpdateRequest
}

func (r *rolling) Update(ctx context.Context, req admin.UpdateRequest) (int, error) {
	r.got = append(r.got, req)
	r.Publish(events.Event{Reason: events.RollingUpdate, Message: "Revision 2: starting demo-2 (revision 2)"})
	r.Publish(events.Event{Reason: events.Unhealthy, Message: "probe noise"})
	st := r.Status()
	st.Update = &admin.UpdateStatus{Revision: 2, Phase: r.phase, Message: r.message, Desired: 2}
	r.SetStatus(st)
	return 2, nil
}

func (r *rolling) Restart(ctx context.Context, req admin.UpdateRequest) (int, error) {
	return r.Update(ctx, req)
}

func startRolling(t *testing.T, r *rolling) *admin.Driver {
	t.Helper()
	srv := admin.NewServer(r, admin.Options{})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return admin.NewDriver(admin.Registry{Dir: t.TempDir()}, admin.Entry{Name: "demo", AdminURL: srv.URL()})
}

func writeServiceJSON(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "service.json")
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

const demoJSON = `{"metadata": {"name": "demo", "instance": 2}, "containers": [{"image": "img:v2", "port": 8000}]}`

// update sends the file as written with the timeout, prints the update's
// steps (not other events) and its end.
func TestUpdatePrintsProgress(t *testing.T) {
	r := &rolling{Fake: admintest.New(admin.ServiceStatus{Name: "demo"}), phase: admin.UpdateComplete}
	d := startRolling(t, r)
	f := writeServiceJSON(t, demoJSON)
	var out, errb strings.Builder
	if err := Update(context.Background(), d, UpdateOptions{File: f, Timeout: 90e9, Out: &out, Err: &errb}); err != nil {
		t.Fatalf("Update: %v\n%s", err, out.String())
	}
	if len(r.got) != 1 || r.got[0].Service != demoJSON || r.got[0].Timeout != "1m30s" {
		t.Errorf("the service got %+v", r.got)
	}
	for _, want := range []string{"updating service demo to revision 2", "RollingUpdate", "starting demo-2", "runs revision 2 on all 2 instances"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "probe noise") {
		t.Errorf("output shows events that are not update steps:\n%s", out.String())
	}
}

// A paused update is an error naming why; a broken file is refused
// before the service is asked.
func TestUpdatePausedAndBadFile(t *testing.T) {
	r := &rolling{Fake: admintest.New(admin.ServiceStatus{Name: "demo"}), phase: admin.UpdatePaused,
		message: "new instance demo-2 of revision 2 not ready within 1m0s"}
	d := startRolling(t, r)
	var out, errb strings.Builder
	err := Update(context.Background(), d, UpdateOptions{File: writeServiceJSON(t, demoJSON), Out: &out, Err: &errb})
	if !errors.Is(err, ErrUpdatePaused) || !strings.Contains(err.Error(), "demo-2") || !strings.Contains(err.Error(), "not ready within 1m0s") {
		t.Errorf("paused update: %v", err)
	}
	r.got = nil
	err = Update(context.Background(), d, UpdateOptions{File: writeServiceJSON(t, `{"metadata": {"name": "demo"}, "containers": []}`), Out: &out, Err: &errb})
	if err == nil || len(r.got) != 0 {
		t.Errorf("a service.json without containers: %v, sent %d updates", err, len(r.got))
	}
	if err := Update(context.Background(), d, UpdateOptions{File: filepath.Join(t.TempDir(), "missing.json"), Out: &out, Err: &errb}); err == nil {
		t.Error("a missing file was accepted")
	}
	// restart sends no file.
	if err := Update(context.Background(), d, UpdateOptions{Out: &out, Err: &errb}); !errors.Is(err, ErrUpdatePaused) || len(r.got) != 1 || r.got[0].Service != "" {
		t.Errorf("restart: %v, requests %+v", err, r.got)
	}
}
