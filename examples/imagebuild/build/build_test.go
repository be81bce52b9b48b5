package build

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// hello is a tiny program: building it is much faster than the app.
const hello = "./testdata/hello"

// entry is one file of an image's flattened file system.
type entry struct {
	typ  byte
	mode int64
	link string
	data []byte
}

func files(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the image's files: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = entry{h.Typeflag, h.Mode, h.Linkname, data}
	}
}

func checkConfig(t *testing.T, img v1.Image, wantEntrypoint []string, wantEnv string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if !slices.Equal(cf.Config.Entrypoint, wantEntrypoint) {
		t.Errorf("entrypoint = %q, want %q", cf.Config.Entrypoint, wantEntrypoint)
	}
	if len(cf.Config.Env) == 0 || cf.Config.Env[0] != DefaultPATH {
		t.Errorf("env = %q, want PATH first", cf.Config.Env)
	}
	if wantEnv != "" && !slices.Contains(cf.Config.Env, wantEnv) {
		t.Errorf("env = %q, want it to contain %q", cf.Config.Env, wantEnv)
	}
	if cf.Config.WorkingDir != "/" {
		t.Errorf("working dir = %q, want /", cf.Config.WorkingDir)
	}
	if _, ok := cf.Config.ExposedPorts["8000/tcp"]; !ok {
		t.Errorf("exposed ports = %v, want 8000/tcp", cf.Config.ExposedPorts)
	}
}

// The docker-save archive carries the name, the config and a layer with
// the binary at /app and, with Shell, busybox as /bin/sh.
func TestBuildDockerArchive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "img.tar")
	err := Build(context.Background(), Options{
		Package: hello, Out: out, Shell: true, Ref: "easlocal.local/hello:v1",
		Env: []string{"GREETING=hi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("easlocal.local/hello:v1")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("the archive does not hold an image named %s: %v", tag, err)
	}
	checkConfig(t, img, []string{"/app"}, "GREETING=hi")
	mt, _ := img.MediaType()
	if mt != types.DockerManifestSchema2 {
		t.Errorf("manifest media type = %s, want %s", mt, types.DockerManifestSchema2)
	}
	fs := files(t, img)
	app, ok := fs["app"]
	if !ok || app.typ != tar.TypeReg || app.mode&0o111 == 0 {
		t.Fatalf("/app missing or not executable: %+v", app)
	}
	checkStatic(t, app.data)
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatalf("test needs %s (busybox-static): %v", BusyboxPath, err)
	}
	if bb := fs["bin/busybox"]; string(bb.data) != string(busybox) {
		t.Errorf("/bin/busybox is not a copy of %s", BusyboxPath)
	}
	if sh := fs["bin/sh"]; sh.typ != tar.TypeSymlink || sh.link != "busybox" {
		t.Errorf("/bin/sh = %+v, want a symlink to busybox", sh)
	}
	if tmp := fs["tmp"]; tmp.typ != tar.TypeDir || tmp.mode&0o1777 != 0o1777 {
		t.Errorf("/tmp = %+v, want a directory with mode 1777", tmp)
	}
}

// The OCI layout archive is read back by ggcr's layout package, and its
// index names the image for containerd.
func TestBuildOCIArchive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "img.tar")
	err := Build(context.Background(), Options{
		Package: hello, Out: out, Format: FormatOCI,
		Entrypoint: []string{"/app", "serve"},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := untar(t, out)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.Annotations[AnnotationContainerdImageName] != DefaultRef || d.Annotations[annotationRefName] != "latest" {
		t.Errorf("annotations = %v, want the name %s", d.Annotations, DefaultRef)
	}
	if d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("media type = %s, want %s", d.MediaType, types.OCIManifestSchema1)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, img, []string{"/app", "serve"}, "")
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d (%v), want 1", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type = %s, want %s", mt, types.OCILayer)
	}
	fs := files(t, img)
	if _, ok := fs["app"]; !ok {
		t.Error("/app missing")
	}
	if _, ok := fs["bin/sh"]; ok {
		t.Error("/bin/sh present without Shell")
	}
}

func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A second build of the same package in the process runs no go build, and
// equal inputs give the same image digest (so containerd reuses it).
func TestBuildIsCachedAndReproducible(t *testing.T) {
	ctx := context.Background()
	a, err := Image(ctx, Options{Package: hello, Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	before := goBuilds.Load()
	b, err := Image(ctx, Options{Package: hello, Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := goBuilds.Load() - before; n != 0 {
		t.Errorf("second build ran go build %d times, want 0", n)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("digests differ for equal inputs: %s vs %s", da, db)
	}
	c, err := Image(ctx, Options{Package: hello})
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := c.Digest(); dc == da {
		t.Error("image without Shell has the same digest as with it")
	}
}

// Bad input gives a clear error naming what is wrong, and no file.
func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no out", Options{Package: hello}, "Options.Out"},
		{"format", Options{Package: hello, Out: filepath.Join(dir, "a.tar"), Format: "zip"}, `unknown archive format "zip"`},
		{"ref", Options{Package: hello, Out: filepath.Join(dir, "b.tar"), Ref: "Not A Ref"}, "not a valid image reference"},
		{"package", Options{Package: "./testdata/nosuch", Out: filepath.Join(dir, "c.tar")}, "go build ./testdata/nosuch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Build(ctx, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
			if c.opts.Out != "" {
				if _, err := os.Stat(c.opts.Out); !os.IsNotExist(err) {
					t.Errorf("%s exists after a failed build", c.opts.Out)
				}
			}
		})
	}
}

// checkStatic asserts data is an ELF executable with no dynamic loader,
// so it runs in an image without libc.
func checkStatic(t *testing.T, data []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("/app is not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/app is dynamically linked; want a static binary (CGO_ENABLED=0)")
		}
	}
}

// The default package, the example app, builds into the image that
// `make examples` writes.
func TestBuildDefaultPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example app (a few seconds)")
	}
	img, err := Image(context.Background(), Options{Shell: true})
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, img, []string{"/app"}, "")
	fs := files(t, img)
	checkStatic(t, fs["app"].data)
	if _, ok := fs["bin/sh"]; !ok {
		t.Error("/bin/sh missing")
	}
}

// The example app is a module of its own, and its directory is found from
// every module of the repository: a package of the root module, tools/ and
// the app's module (both replace easlocal with a local path).
func TestAppDirFromEveryModule(t *testing.T) {
	want, err := filepath.Abs("../../app")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{".", "../../../tools", "../../../tools/bench", "../../app"} {
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appDir(context.Background(), abs)
		if err != nil || got != want {
			t.Errorf("appDir(%s) = %q, %v; want %q", dir, got, err, want)
		}
	}
}

// Where no examples/app can be found, the default package fails with an
// error that says what to set, and go build does not run.
func TestBuildDefaultPackageOutsideRepository(t *testing.T) {
	// A module whose easlocal, like a module cache copy, has no examples/app.
	mod := t.TempDir()
	fake := filepath.Join(mod, "easlocal")
	if err := os.MkdirAll(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fake, "go.mod"), "module github.com/easlocal/easlocal\n\ngo 1.26\n")
	user := filepath.Join(mod, "user")
	if err := os.MkdirAll(user, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(user, "go.mod"), "module example.com/user\n\ngo 1.26\n\nrequire github.com/easlocal/easlocal v0.0.0\n\nreplace github.com/easlocal/easlocal => ../easlocal\n")

	for _, dir := range []string{t.TempDir(), user} {
		before := goBuilds.Load()
		err := Build(context.Background(), Options{Out: filepath.Join(t.TempDir(), "img.tar"), Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "set Options.Dir") {
			t.Errorf("from %s: err = %v, want it to say to set Options.Dir", dir, err)
		}
		if n := goBuilds.Load() - before; n != 0 {
			t.Errorf("from %s: go build ran %d times, want 0", dir, n)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
