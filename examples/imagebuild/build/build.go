package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rs/zerolog"
)

// Defaults for Options.
const (
	// DefaultPackage, the example app, is a module of its own (so that
	// `go install ./...` in the root module installs only easlocal); it is
	// built in its directory, found from Options.Dir (see Options.Package).
	DefaultPackage = "github.com/easlocal/easlocal/examples/app"
	DefaultRef     = "easlocal.local/example:latest"
	// BusyboxPath is where Shell takes the static busybox from (Debian's
	// busybox-static package).
	BusyboxPath = "/bin/busybox"
	// DefaultPATH is the PATH set in the image config.
	DefaultPATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Archive formats for Options.Format.
const (
	FormatDocker = "docker" // `docker save` tarball: manifest.json + RepoTags
	FormatOCI    = "oci"    // OCI image layout in a tar: oci-layout, index.json, blobs/
)

// AnnotationContainerdImageName is the index annotation containerd's
// importer reads the full image name from.
const AnnotationContainerdImageName = "io.containerd.image.name"

// Applets are the busybox applets linked into /bin when Options.Shell is set.
var Applets = []string{
	"sh", "ash", "cat", "cp", "date", "echo", "env", "false", "grep", "head",
	"hostname", "id", "kill", "ls", "mkdir", "mv", "nc", "printf", "ps", "pwd",
	"rm", "sed", "sleep", "tail", "test", "timeout", "touch", "true", "uname",
	"wc", "wget", "which",
}

// Options says what to build. Only Out is required.
type Options struct {
	// Package is the Go package to build: an import path or a directory
	// (default DefaultPackage). DefaultPackage is built in examples/app of
	// the easlocal module that Dir's module graph holds: Dir is anywhere in
	// the repository, in the root module or in a nested one that replaces
	// it with a local path (tools/, examples/app).
	Package string
	// Dir is the working directory of `go build` (default: the current
	// directory). An import path other than DefaultPackage must resolve
	// from there.
	Dir string
	// Ref names the image (default DefaultRef).
	Ref string
	// Out is the path of the archive to write.
	Out string
	// Format is FormatDocker (default) or FormatOCI.
	Format string
	// Shell adds BusyboxPath as /bin/busybox with /bin/sh and Applets
	// linked to it, so `script` and `sh -c` probes work.
	Shell bool
	// Env is added to the image's env after PATH.
	Env []string
	// Entrypoint defaults to ["/app"].
	Entrypoint []string
	// Cmd is the image's default arguments (default none).
	Cmd []string
	// Log receives progress lines; the zero value logs nothing.
	Log zerolog.Logger
}

// Build compiles opts.Package and writes an image archive to opts.Out.
func Build(ctx context.Context, opts Options) error {
	if opts.Out == "" {
		return errors.New("imagebuild: no output path given; set Options.Out (the -out flag) to where the archive should go")
	}
	img, err := Image(ctx, opts)
	if err != nil {
		return err
	}
	ref := opts.Ref
	if ref == "" {
		ref = DefaultRef
	}
	return WriteArchive(img, ref, opts.Format, opts.Out)
}

// Image compiles opts.Package and returns the image without writing it.
// Out is ignored.
func Image(ctx context.Context, opts Options) (v1.Image, error) {
	log := opts.Log
	oci, err := isOCI(opts.Format)
	if err != nil {
		return nil, err
	}
	pkg := opts.Package
	if pkg == "" {
		pkg = DefaultPackage
	}

	start := time.Now()
	bin, err := goBuild(ctx, pkg, opts.Dir)
	if err != nil {
		return nil, err
	}
	log.Info().Str("package", pkg).Int("bytes", len(bin)).Dur("took", time.Since(start)).Msg("go build done")

	var busybox []byte
	if opts.Shell {
		busybox, err = os.ReadFile(BusyboxPath)
		if err != nil {
			return nil, fmt.Errorf("imagebuild: Shell needs a static busybox at %s (apt-get install busybox-static): %w", BusyboxPath, err)
		}
	}
	layer, err := cachedLayer(bin, busybox, oci)
	if err != nil {
		return nil, err
	}

	img := empty.Image
	if oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: adding the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("imagebuild: reading the base config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Entrypoint = []string{"/app"}
	if len(opts.Entrypoint) > 0 {
		cf.Config.Entrypoint = append([]string(nil), opts.Entrypoint...)
	}
	cf.Config.Cmd = append([]string(nil), opts.Cmd...)
	cf.Config.Env = append([]string{DefaultPATH}, opts.Env...)
	cf.Config.WorkingDir = "/"
	cf.Config.ExposedPorts = map[string]struct{}{"8000/tcp": {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: setting the config: %w", err)
	}
	return img, nil
}

func isOCI(format string) (bool, error) {
	switch format {
	case "", FormatDocker:
		return false, nil
	case FormatOCI:
		return true, nil
	}
	return false, fmt.Errorf("imagebuild: unknown archive format %q; use %q or %q", format, FormatDocker, FormatOCI)
}

// binCache memoises `go build` per package and directory for the life of
// the process: tests in one package build the example once.
var binCache struct {
	mu sync.Mutex
	m  map[string]*binEntry
}

// goBuilds counts `go build` runs, for the cache test.
var goBuilds atomic.Int64

type binEntry struct {
	mu  sync.Mutex // held while building; later callers wait on it
	bin []byte
}

func goBuild(ctx context.Context, pkg, dir string) ([]byte, error) {
	absDir, err := filepath.Abs(dir)
	if dir == "" {
		absDir, err = os.Getwd()
	}
	if err != nil {
		return nil, fmt.Errorf("imagebuild: resolving the build directory: %w", err)
	}
	// The caller's package and directory decide what is built, so they
	// are the key (DefaultPackage's directory is found from absDir).
	key := pkg + "\x00" + absDir + "\x00" + runtime.GOARCH
	binCache.mu.Lock()
	if binCache.m == nil {
		binCache.m = map[string]*binEntry{}
	}
	e := binCache.m[key]
	if e == nil {
		e = &binEntry{}
		binCache.m[key] = e
	}
	binCache.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bin != nil {
		return e.bin, nil
	}

	buildPkg, buildDir := pkg, absDir
	if pkg == DefaultPackage {
		if buildDir, err = appDir(ctx, absDir); err != nil {
			return nil, err
		}
		buildPkg = "."
	}

	tmp, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return nil, fmt.Errorf("imagebuild: making a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "app")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, buildPkg)
	cmd.Dir = buildDir
	// Static, for the image's architecture; go build inherits the rest.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	goBuilds.Add(1)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("imagebuild: go build %s (in %s) failed: %w\n%s", buildPkg, buildDir, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: reading the built binary: %w", err)
	}
	e.bin = bin
	return bin, nil
}

// rootModule is the module the example app's directory is found from.
const rootModule = "github.com/easlocal/easlocal"

// appDir returns the directory of DefaultPackage's module: examples/app in
// the directory of rootModule as the module graph of dir resolves it (the
// root module itself, or the target of a local replace).
func appDir(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "list", "-m", "-f", "{{.Dir}}", rootModule)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("imagebuild: finding %s from %s: go list -m %s: %w: %s; set Options.Dir (run from) a directory of the easlocal repository, or Options.Package to another program",
			DefaultPackage, dir, rootModule, err, strings.TrimSpace(stderr.String()))
	}
	app := filepath.Join(strings.TrimSpace(string(out)), "examples", "app")
	if _, err := os.Stat(filepath.Join(app, "go.mod")); err != nil {
		// A module cache copy of easlocal leaves nested modules out.
		return "", fmt.Errorf("imagebuild: finding %s from %s: %s is not a module; set Options.Dir (run from) a directory of a clone of the easlocal repository", DefaultPackage, dir, app)
	}
	return app, nil
}

// goTool finds the go command: PATH first, then the toolchain this
// program was built with (go test does not always put go on PATH).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// layerCache memoises layers by the content hash of what goes in them.
var layerCache sync.Map // string -> v1.Layer

func cachedLayer(bin, busybox []byte, oci bool) (v1.Layer, error) {
	h := sha256.New()
	h.Write(bin)
	h.Write([]byte{0})
	h.Write(busybox)
	key := fmt.Sprintf("%s/%d/%t", hex.EncodeToString(h.Sum(nil)), len(busybox), oci)
	if l, ok := layerCache.Load(key); ok {
		return l.(v1.Layer), nil
	}
	data, err := layerTar(bin, busybox)
	if err != nil {
		return nil, err
	}
	mt := types.DockerLayer
	if oci {
		mt = types.OCILayer
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(mt), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: making the layer: %w", err)
	}
	actual, _ := layerCache.LoadOrStore(key, l)
	return actual.(v1.Layer), nil
}

// epoch is the fixed file time in layers, so equal inputs give equal digests.
var epoch = time.Unix(0, 0).UTC()

// layerTar writes the file tree of the image (see the package comment).
func layerTar(bin, busybox []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	link := func(name, target string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch, Format: tar.FormatPAX})
	}
	steps := []func() error{
		func() error { return file("app", 0o755, bin) },
		func() error { return dir("etc", 0o755) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")) },
		func() error { return dir("root", 0o700) },
		func() error { return dir("tmp", 0o1777) },
	}
	if busybox != nil {
		steps = append(steps,
			func() error { return dir("bin", 0o755) },
			func() error { return file("bin/busybox", 0o755, busybox) },
		)
		for _, a := range Applets {
			steps = append(steps, func() error { return link("bin/"+a, "busybox") })
		}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("imagebuild: writing the layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("imagebuild: writing the layer: %w", err)
	}
	return buf.Bytes(), nil
}
