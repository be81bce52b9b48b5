package runtime

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/google/go-containerregistry/pkg/registry"
)

// EnsureImage pulls an image that is not in the store, with dockerAuth
// credentials and progress lines, from a registry on 127.0.0.1 (an
// in-memory one: tests send nothing off this machine). The blobs are
// already in the content store (the image was pushed from it), so this
// checks resolution, authentication and the manifest fetch.. Wrong credentials
// fail with a sentence naming dockerAuth.
func TestPullWithDockerAuth(t *testing.T) {
	t.Parallel()
	rt := needRuntime(t)
	ctx := testCtx(t)
	const user, pass = "eas", "s3cret"
	regHandler := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		regHandler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// Push the example image there with containerd's own pusher.
	ref := host + "/easlocal/pulltest:1"
	img, err := rt.client.GetImage(nsCtx(ctx), testImage)
	if err != nil {
		t.Fatal(err)
	}
	pusher := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(
		docker.WithPlainHTTP(docker.MatchLocalhost),
		docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(
			func(string) (string, string, error) { return user, pass, nil }))),
	)})
	if err := rt.client.Push(nsCtx(ctx), ref, img.Target(), client.WithResolver(pusher)); err != nil {
		t.Fatalf("push to the test registry: %v", err)
	}
	t.Cleanup(func() { rt.client.ImageService().Delete(nsCtx(context.Background()), ref) })

	auth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	err = rt.EnsureImage(ctx, ref, auth(user, "wrong"), nil)
	if err == nil || !strings.Contains(err.Error(), "refused the dockerAuth credentials") {
		t.Errorf("pull with wrong credentials: %v", err)
	}
	err = rt.EnsureImage(ctx, ref, "", nil)
	if err == nil || !strings.Contains(err.Error(), "needs credentials") {
		t.Errorf("pull without credentials: %v", err)
	}

	var progress strings.Builder
	if err := rt.EnsureImage(ctx, ref, auth(user, pass), &progress); err != nil {
		t.Fatalf("pull with the right credentials: %v", err)
	}
	for _, want := range []string{"pulling " + ref, "fetching layer", "pulled " + ref} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	// Now it is local: no registry needed.
	srv.Close()
	if err := rt.EnsureImage(ctx, ref, "", nil); err != nil {
		t.Errorf("EnsureImage of the pulled image with the registry gone: %v", err)
	}
}
