package service

import (
	"slices"
	"strings"
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
// an alias, the same key ignoring case and '_'/'-', or a key within a small
// edit distance (1 for short keys, 2 from 5 characters, 3 from 9).
func suggest(key string, known []string) (string, string) {
	nk := normalize(key)
	if a, ok := aliases[nk]; ok && slices.Contains(known, a.to) {
		return a.to, a.why
	}
	best, bestDist := "", 1<<30
	for _, k := range known {
		dist := editDistance(nk, normalize(k))
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := 1
	switch {
	case len(nk) >= 9:
		limit = 3
	case len(nk) >= 5:
		limit = 2
	}
	if best == "" || bestDist > limit {
		return "", ""
	}
	return best, ""
}

var separators = strings.NewReplacer("_", "", "-", "", " ", "")

func normalize(s string) string {
	return separators.Replace(strings.ToLower(s))
}

// editDistance is the Levenshtein distance over bytes (keys are ASCII in
// practice; bytes keep it cheap on hostile input). Keys longer than 64
// bytes are not compared: nothing known is that long.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
