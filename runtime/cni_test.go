package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocni "github.com/containerd/go-cni"
)

// gateCNI is a go-cni stand-in whose Setup and Remove wait at a gate, so a
// test sees how many calls are inside at once.
type gateCNI struct {
	gocni.CNI
	inside, most atomic.Int32
	entered      chan struct{}
	release      chan struct{}
}

func newGateCNI() *gateCNI {
	return &gateCNI{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gateCNI) call() {
	n := g.inside.Add(1)
	for {
		m := g.most.Load()
		if n <= m || g.most.CompareAndSwap(m, n) {
			break
		}
	}
	g.entered <- struct{}{}
	<-g.release
	g.inside.Add(-1)
}

func (g *gateCNI) Setup(context.Context, string, string, ...gocni.NamespaceOpts) (*gocni.Result, error) {
	g.call()
	return &gocni.Result{}, nil
}

func (g *gateCNI) Remove(context.Context, string, string, ...gocni.NamespaceOpts) error {
	g.call()
	return nil
}

// waitEntered waits for n calls to be inside the gate; the bound only
// turns a serialisation bug into a failure instead of a hang.
func (g *gateCNI) waitEntered(t *testing.T, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-g.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: only %d of %d calls got in at once", what, i, n)
		}
	}
}

// TestPodsAttachConcurrently: once the bridge exists, the CNI calls of
// different pods run at the same time, both ADD and DEL; the first ADDs
// (which create the bridge) one at a time.
func TestPodsAttachConcurrently(t *testing.T) {
	g := newGateCNI()
	r := &Runtime{cni: g}
	var wg sync.WaitGroup
	defer func() {
		close(g.release)
		wg.Wait()
	}()
	ctx := context.Background()

	// Two first ADDs: only one gets in until it has succeeded.
	for range 2 {
		wg.Go(func() { r.cniSetup(ctx, "p", "/ns") })
	}
	g.waitEntered(t, 1, "first ADD")
	select {
	case <-g.entered:
		t.Fatal("a second ADD ran while the first, which creates the bridge, had not finished")
	case <-time.After(50 * time.Millisecond):
	}
	g.release <- struct{}{} // the first succeeds: the bridge is up
	g.waitEntered(t, 1, "second ADD")
	g.release <- struct{}{}
	wg.Wait()

	const n = 4
	burst := func(what string, call func()) { // n calls at once, all let through together
		for range n {
			wg.Go(call)
		}
		g.waitEntered(t, n, what)
		for range n {
			g.release <- struct{}{}
		}
		wg.Wait()
	}
	burst("ADDs after the bridge is up", func() { r.cniSetup(ctx, "p", "/ns") })
	burst("DELs", func() { r.cniRemove(ctx, "p", "/ns") })
	if got := g.most.Load(); got != n {
		t.Errorf("at most %d CNI calls at once, want %d", got, n)
	}
}
