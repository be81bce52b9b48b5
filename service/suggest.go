package service

import (
	"slices"

	suggestpkg "github.com/easlocal/easlocal/internal/suggest"
)

// aliases maps keys people write from habit (Kubernetes names, other
// tools) to the EAS key, with the reason when it is not just a spelling.
// The key is the normalized form (see normalize).
var aliases = map[string]struct{ to, why string }{
	"readinesscheck": {"health_check", "EAS calls the readiness probe health_check"},
	"readinessprobe": {"health_check", "EAS calls the readiness probe health_check"},
	"readiness":      {"health_check", "EAS calls the readiness probe health_check"},
	"livenessprobe":  {"liveness_check", ""},
	"liveness":       {"liveness_check", ""},
	"startupprobe":   {"startup_check", ""},
	"startup":        {"startup_check", ""},
	"replicas":       {"instance", "EAS calls the replica count instance"},
	"instances":      {"instance", ""},
	"containerport":  {"port", ""},
	"ports":          {"port", "a container has one port in EAS"},
	"cmd":            {"command", "command is one command line, split into words as a shell would"},
	"args":           {"command", "EAS has no args: put the whole command line in command"},
	"entrypoint":     {"command", ""},
	"environment":    {"env", ""},
	"envs":           {"env", ""},
	"execaction":     {"exec", ""},
	"httpgetaction":  {"http_get", ""},
	"mountpath":      {"mount_path", ""},
	"dockerauth":     {"dockerAuth", ""},
}

// suggest returns the known key closest to key, or "" when none is close:
// an alias, or suggest.Closest (the same key ignoring case and '_'/'-', or
// within a small edit distance).
func suggest(key string, known []string) (string, string) {
	if a, ok := aliases[normalize(key)]; ok && slices.Contains(known, a.to) {
		return a.to, a.why
	}
	return suggestpkg.Closest(key, known), ""
}

func normalize(s string) string { return suggestpkg.Normalize(s) }
