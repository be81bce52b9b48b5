// Package examples holds the example service.json files (see README.md)
// and a test that each one parses cleanly with the service package and
// says what it claims to. The example program is in ./app (a module of
// its own), the image builder library in ./imagebuild/build and its
// command in tools/imagebuild.
package examples
