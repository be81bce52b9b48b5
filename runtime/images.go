package runtime

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// resolveTimeout bounds the first contact with a registry, so a pull that
// cannot work (no network, no such registry) fails fast.
const resolveTimeout = 20 * time.Second

// NormalizeRef returns the full name containerd stores an image under:
// "busybox" becomes "docker.io/library/busybox:latest".
func NormalizeRef(ref string) (string, error) {
	n, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid image reference: %w", ref, err)
	}
	return n.String(), nil
}

// EnsureImage makes ref available, unpacked: the local image when
// present, else a pull (dockerAuth is base64 "user:password", as in
// service.json) with progress lines written to progress (may be nil).
func (r *Runtime) EnsureImage(ctx context.Context, ref, dockerAuth string, progress io.Writer) error {
	ctx = nsCtx(ctx)
	if progress == nil {
		progress = io.Discard
	}
	name, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	if img, err := r.client.GetImage(ctx, name); err == nil {
		return r.unpack(ctx, img)
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("look up image %s: %w", name, err)
	}

	creds, err := credentials(dockerAuth)
	if err != nil {
		return err
	}
	host := reference.Domain(mustNamed(name))
	// Plain HTTP for registries on localhost only, as Docker does.
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(
			docker.WithPlainHTTP(docker.MatchLocalhost),
			docker.WithAuthorizer(docker.NewDockerAuthorizer(docker.WithAuthCreds(
				func(string) (string, string, error) { return creds[0], creds[1], nil }))),
		),
	})
	fmt.Fprintf(progress, "pulling %s\n", name)
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	_, desc, err := resolver.Resolve(rctx, name)
	cancel()
	if err != nil {
		return pullError(name, host, dockerAuth != "", err)
	}
	fmt.Fprintf(progress, "resolved %s to %s\n", name, desc.Digest)
	show := images.HandlerFunc(func(_ context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if images.IsLayerType(d.MediaType) {
			fmt.Fprintf(progress, "fetching layer %s (%s)\n", shortDigest(d.Digest.String()), HumanSize(d.Size))
		}
		return nil, nil
	})
	start := time.Now()
	// Fetch, then unpack: unpacking during the pull would take the layers
	// out of the handler chain, and with them the progress lines.
	img, err := r.client.Pull(ctx, name,
		client.WithResolver(resolver),
		client.WithPullSnapshotter(Snapshotter),
		client.WithImageHandler(show),
	)
	if err != nil {
		return pullError(name, host, dockerAuth != "", err)
	}
	fmt.Fprintf(progress, "unpacking %s\n", name)
	if err := r.unpack(ctx, img); err != nil {
		return err
	}
	size, _ := img.Size(ctx)
	fmt.Fprintf(progress, "pulled %s (%s) in %s\n", name, HumanSize(size), time.Since(start).Round(time.Millisecond))
	return nil
}

// credentials decodes dockerAuth; an empty one means anonymous.
func credentials(dockerAuth string) ([2]string, error) {
	if dockerAuth == "" {
		return [2]string{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(dockerAuth))
	user, pass, ok := strings.Cut(string(b), ":")
	if err != nil || !ok {
		return [2]string{}, errors.New("dockerAuth is not base64 of user:password: encode it with `printf %s user:password | base64`")
	}
	return [2]string{user, pass}, nil
}

// pullError turns a resolver or fetch error into a sentence a user can act on.
func pullError(name, host string, withAuth bool, err error) error {
	var nerr net.Error
	var oerr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, docker.ErrInvalidAuthorization), strings.Contains(err.Error(), "401 Unauthorized"), strings.Contains(err.Error(), "403 Forbidden"):
		if withAuth {
			return fmt.Errorf("registry %s refused the dockerAuth credentials for %s: check the user and password (%w)", host, name, err)
		}
		return fmt.Errorf("registry %s needs credentials for %s: set dockerAuth in service.json, or load the image with `easlocal load` (%w)", host, name, err)
	case errdefs.IsNotFound(err):
		return fmt.Errorf("image %s was not found in registry %s: check the name and tag, or load it with `easlocal load` (%w)", name, host, err)
	case errors.As(err, &dnsErr), errors.As(err, &oerr), errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach registry %s to pull %s: no network or no such registry; load the image with `easlocal load FILE.tar` instead (%w)", host, name, err)
	}
	return fmt.Errorf("pull %s from %s: %w", name, host, err)
}

func mustNamed(name string) reference.Named {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil
	}
	return n
}

// unpack makes sure the image has a snapshot to start containers from.
func (r *Runtime) unpack(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, Snapshotter)
	if err == nil && ok {
		return nil
	}
	if err := img.Unpack(ctx, Snapshotter); err != nil {
		return fmt.Errorf("unpack image %s: %w", img.Name(), err)
	}
	return nil
}

// Load imports an image archive (`docker save` format or an OCI image
// layout) from rd, unpacks it and returns the names it added, e.g.
// "docker.io/library/example:latest".
func (r *Runtime) Load(ctx context.Context, rd io.Reader) ([]string, error) {
	ctx = nsCtx(ctx)
	// Two imports of the same name at once make one fail: the client
	// creates the image record after checking it is missing. Serialise
	// the imports of every easlocal on this machine (parallel tests load
	// the same example image).
	unlock, err := lockFile(ctx, filepath.Join(r.cfg.StateDir, "import.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	imgs, err := r.client.Import(ctx, rd,
		client.WithImageRefTranslator(ociRefName),
	)
	if err != nil {
		return nil, fmt.Errorf("import image archive: %w (is it a `docker save` archive or an OCI image layout tar?)", err)
	}
	var names []string
	for _, m := range imgs {
		if err := r.unpack(ctx, client.NewImage(r.client, m)); err != nil {
			return names, err
		}
		names = append(names, m.Name)
	}
	if len(names) == 0 {
		return nil, errors.New("the archive names no image: tag it when building (a docker save archive lists RepoTags; an OCI layout needs an org.opencontainers.image.ref.name annotation with a full reference)")
	}
	sort.Strings(names)
	return names, nil
}

// ociRefName names an image of an OCI layout from its ref.name annotation
// when that is a full reference; a bare tag ("latest") names nothing.
func ociRefName(s string) string {
	if strings.ContainsAny(s, "/:") {
		if n, err := NormalizeRef(s); err == nil {
			return n
		}
	}
	return ""
}

// Images lists the images in easlocal's namespace, sorted by name.
func (r *Runtime) Images(ctx context.Context) ([]ImageInfo, error) {
	ctx = nsCtx(ctx)
	imgs, err := r.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]ImageInfo, 0, len(imgs))
	for _, img := range imgs {
		size, _ := img.Size(ctx)
		out = append(out, ImageInfo{Name: img.Name(), Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func shortDigest(d string) string {
	if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return hex[:12]
	}
	return d
}

// HumanSize writes a byte count as people read it (4.2 MiB).
func HumanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
