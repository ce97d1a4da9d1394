// Package version holds what the build stamps, as many CLIs keep it.
package version

import "runtime/debug"

// Version and GitCommit are set at build time with -X.
var (
	Version   = "dev"
	GitCommit string
	BuildDate = "unknown"
)

// Module is the main module's version and revision as the Go toolchain
// recorded them (debug.ReadBuildInfo), for programs that stamp nothing.
func Module() (version, revision, modified string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", "", ""
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	return bi.Main.Version, revision, modified
}
