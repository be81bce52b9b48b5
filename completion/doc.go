// Package completion owns easlocal's shell completion: the scripts
// `easlocal completion bash|zsh|fish` prints, and the candidates for the
// names of running services and their instances.
//
// The scripts ask easlocal itself for the candidates, with urfave/cli's
// --generate-bash-completion: the words typed so far are run again with
// that flag appended, and the command prints one candidate per line
// instead of running. Commands and flags come from the CLI definition
// (cmd/easlocal); service and instance names from Names, which reads the
// registry and the running services' control APIs.
package completion
