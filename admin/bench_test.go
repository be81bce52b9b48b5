package admin_test

import (
	"context"
	"testing"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/events"
)

// BenchmarkStatus is one `easlocal ps` worth of API: a status round trip
// over loopback.
func BenchmarkStatus(b *testing.B) {
	srv := admin.NewServer(admintest.New(demoStatus()), admin.Options{Token: "t"})
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	c := &admin.Client{BaseURL: srv.URL(), Token: "t"}
	for b.Loop() {
		if _, err := c.Status(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFollowEvent is the delay from Publish to a follower's callback.
func BenchmarkFollowEvent(b *testing.B) {
	f := admintest.New(demoStatus())
	srv := admin.NewServer(f, admin.Options{})
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	c := &admin.Client{BaseURL: srv.URL()}
	got := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.FollowEvents(ctx, 0, func(events.Event) error { got <- struct{}{}; return nil })
	f.Publish(events.Event{}) // wait until the stream is open
	<-got
	for b.Loop() {
		f.Publish(events.Event{Message: "x"})
		<-got
	}
}
