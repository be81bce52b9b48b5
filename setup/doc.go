// Package setup implements the easlocal commands that need no running
// service: they check this machine, fill containerd with images and read
// service files. cmd/easlocal maps the command line onto them and their
// errors onto exit codes. It owns:
//   - doctor.go: Doctor, the prerequisites (runtime.Preflight) and their fixes.
//   - images.go: Load and Images, archives into easlocal's containerd
//     namespace and the list of what is there.
//   - validate.go: Validate (what easlocal would run, or why not) and
//     ExportK8s (the manifests of package k8sexport).
//   - version.go: the version and commit easlocal was built from.
//   - runtime.go: RuntimeConfig, the checked runtime flags of every
//     command that talks to containerd.
package setup
