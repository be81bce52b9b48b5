package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// commit is set by `make build` (-ldflags "-X main.commit=..."): go
// build's own VCS stamp is missing in git worktrees and with
// -buildvcs=false.
var commit string

func init() {
	commands = append(commands, &cli.Command{
		Name:     "version",
		Category: categorySetup,
		Usage:    "print easlocal's version and the commit it was built from",
		Description: "Examples:\n" +
			"   easlocal version\n" +
			"   easlocal version --json",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print a JSON object"}},
		Action: func(c *cli.Context) error {
			bi, _ := debug.ReadBuildInfo()
			v := buildVersion(version, commit, bi)
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			fmt.Fprintln(c.App.Writer, v)
			return nil
		},
	})
}

// versionInfo is what `easlocal version` prints.
type versionInfo struct {
	Version string `json:"version"`
	// Commit is the full commit hash, "unknown" when the build did not
	// record one; "+dirty" marks uncommitted changes.
	Commit string `json:"commit"`
	Go     string `json:"go,omitempty"`
}

func (v versionInfo) String() string {
	s := fmt.Sprintf("easlocal %s (commit %s", v.Version, v.Commit)
	if v.Go != "" {
		s += ", " + v.Go
	}
	return s + ")"
}

// buildVersion combines the -ldflags values with the build info: the
// module version for `go install ...@vX`, and the VCS stamp go build adds
// in a plain git checkout.
func buildVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: ldVersion, Commit: ldCommit}
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
