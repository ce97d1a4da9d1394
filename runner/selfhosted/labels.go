// Package selfhosted is gantry's self-hosted runner: the daemon that takes
// jobs from a forge through a forge.Protocol, runs each through the engine
// with a fresh workspace, and reports them back; plus the runner's folder
// (registration, credentials, in-flight jobs) and its metrics.
package selfhosted

import (
	"fmt"
	"strings"
)

// Label is one runner label as Gitea writes them: NAME, NAME:host or
// NAME:docker://IMAGE. The forge only ever sees Name; Platform ("host" or an
// image) stays local and decides where the job runs.
type Label struct {
	Name     string
	Platform string
}

// DefaultLabels are used when register is given no --labels.
var DefaultLabels = []string{"ubuntu-latest:docker://gantry/debian:bookworm", "self-hosted:host"}

// ParseLabel parses NAME, NAME:host or NAME:docker://IMAGE.
func ParseLabel(s string) (Label, error) {
	s = strings.TrimSpace(s)
	name, rest, found := strings.Cut(s, ":")
	if name == "" {
		return Label{}, fmt.Errorf("label %q: empty name; write NAME, NAME:host or NAME:docker://IMAGE", s)
	}
	if !found || rest == "host" {
		return Label{Name: name, Platform: "host"}, nil
	}
	if img, ok := strings.CutPrefix(rest, "docker://"); ok && img != "" {
		return Label{Name: name, Platform: img}, nil
	}
	return Label{}, fmt.Errorf("label %q: unknown kind %q; write NAME:host or NAME:docker://IMAGE", s, rest)
}

// ParseLabels parses a comma-separated list (or several); duplicates are an error.
func ParseLabels(list []string) ([]Label, error) {
	var out []Label
	seen := map[string]bool{}
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			l, err := ParseLabel(s)
			if err != nil {
				return nil, err
			}
			key := strings.ToLower(l.Name)
			if seen[key] {
				return nil, fmt.Errorf("label %q is given twice", l.Name)
			}
			seen[key] = true
			out = append(out, l)
		}
	}
	return out, nil
}

// String is the label as written.
func (l Label) String() string {
	if l.Platform == "host" {
		return l.Name + ":host"
	}
	return l.Name + ":docker://" + l.Platform
}

// Names are the labels' names, what the forge is told.
func Names(labels []Label) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l.Name
	}
	return out
}

// Platforms maps each (lower-cased) label name to its platform, the
// engine's runs-on mapping.
func Platforms(labels []Label) map[string]string {
	out := make(map[string]string, len(labels))
	for _, l := range labels {
		out[strings.ToLower(l.Name)] = l.Platform
	}
	return out
}
