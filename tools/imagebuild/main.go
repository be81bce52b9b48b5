// Command imagebuild builds a Go program, by default the example app, into
// a container image archive without Docker, for `easlocal load`. From
// tools/ (a module of its own, so that `go install ./...` in the root
// module installs only easlocal):
//
//	go run ./imagebuild -out ../bin/example-image.tar
//	easlocal load ../bin/example-image.tar
//
// Paths are relative to the current directory, as for every command. See
// package github.com/easlocal/easlocal/examples/imagebuild/build.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/examples/imagebuild/build"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var opts build.Options
	var env listFlag
	var entrypoint string
	noShell := false
	flag.StringVar(&opts.Out, "out", "../bin/example-image.tar", "path of the archive to write (the default is the one `make examples` writes, seen from tools/)")
	flag.StringVar(&opts.Package, "pkg", build.DefaultPackage, "Go package (import path or directory) to build into /app; the default, the example app, is found from anywhere in the repository")
	flag.StringVar(&opts.Ref, "ref", build.DefaultRef, "image reference to name the image")
	flag.StringVar(&opts.Format, "format", build.FormatDocker, "archive format: docker (docker save tarball) or oci (OCI image layout tar)")
	flag.BoolVar(&noShell, "no-shell", false, "leave out busybox (/bin/sh); by default it is added so script and sh -c probes work")
	flag.Var(&env, "env", "KEY=VALUE added to the image env (repeatable)")
	flag.StringVar(&entrypoint, "entrypoint", "", "entrypoint, words separated by spaces (default /app)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "imagebuild: unexpected argument %q; every setting is a flag (see -h)\n", flag.Arg(0))
		os.Exit(2)
	}
	opts.Shell = !noShell
	opts.Env = env
	opts.Entrypoint = strings.Fields(entrypoint)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	if err := build.Build(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%s, %s format) in %s\n", opts.Out, opts.Ref, opts.Format, time.Since(start).Round(time.Millisecond))
}
