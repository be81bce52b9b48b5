package setup

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
)

// Version is what `easlocal version` prints.
type Version struct {
	Version string `json:"version"`
	// Commit is the full commit hash, "unknown" when the build did not
	// record one; "+dirty" marks uncommitted changes.
	Commit string `json:"commit"`
	Go     string `json:"go,omitempty"`
}

func (v Version) String() string {
	s := fmt.Sprintf("easlocal %s (commit %s", v.Version, v.Commit)
	if v.Go != "" {
		s += ", " + v.Go
	}
	return s + ")"
}

// BuildVersion combines the -ldflags values with the build info: the
// module version for `go install ...@vX`, and the VCS stamp go build adds
// in a plain git checkout.
func BuildVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) Version {
	v := Version{Version: ldVersion, Commit: ldCommit}
	if bi != nil {
		v.Go = bi.GoVersion
		if v.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		if v.Commit == "" {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "+dirty"
			}
			v.Commit = rev
		}
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

// PrintVersion prints v as a sentence, or asJSON as an object.
func PrintVersion(w io.Writer, v Version, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintln(w, v)
	return nil
}
