// Package build turns a Go program into a container image archive without
// Docker: it runs `go build` (static, CGO_ENABLED=0), puts the binary at
// /app in a single layer (optionally with Debian's static busybox as
// /bin/sh and a few applets), and writes the image with
// go-containerregistry as an archive that `easlocal load` and containerd's
// importer accept.
//
// Use:
//
//	err := build.Build(ctx, build.Options{
//		Package: "github.com/easlocal/easlocal/examples/app", // the default
//		Out:     filepath.Join(t.TempDir(), "example.tar"),
//		Shell:   true,
//	})
//
// The example app is a module of its own (examples/app/go.mod), so the
// default package is built in its directory, which is found from
// Options.Dir through the module graph: any directory of the repository
// will do, including tools/.
//
// The archive holds one image named Options.Ref (default
// DefaultRef, "easlocal.local/example:latest"). Format "docker" (the
// default) writes a `docker save` tarball with manifest.json and RepoTags;
// format "oci" writes an OCI image layout (oci-layout, index.json, blobs/)
// as a tar, whose index entry carries both the
// org.opencontainers.image.ref.name and io.containerd.image.name
// annotations, so containerd keeps the full name on import.
//
// Building the same package twice in one process runs `go build` once
// (the binary is memoised), and layers are memoised by the binary's
// content hash, so tests may call Build freely. Images are reproducible:
// file times are fixed and no creation time is set, so the same binary
// gives the same image digest.
//
// The layout of the image:
//
//	/app                  the Go binary (the default entrypoint)
//	/bin/busybox, /bin/sh and applets (only with Shell)
//	/etc/passwd, /etc/group  root and nobody
//	/tmp                  mode 1777
//
// Config: Entrypoint ["/app"], Env PATH plus Options.Env, WorkingDir /,
// ExposedPorts 8000/tcp, OS linux, Architecture runtime.GOARCH.
package build
