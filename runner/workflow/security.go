package workflow

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/gantry-ci/gantry/internal/actionurl"
	"github.com/gantry-ci/gantry/internal/envfile"
	"github.com/gantry-ci/gantry/internal/safepath"
	"github.com/gantry-ci/gantry/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// Checks that keep a hostile workflow from reaching outside what it may
// touch or from exhausting the machine, run on every parse (gantry run and
// gantry validate alike).

// MaxExpandedNodes bounds the YAML nodes a document may stand for once its
// aliases are expanded. A billion-laughs document of a few hundred bytes
// otherwise costs gigabytes the first time it is turned into values; real
// workflows are far below it.
const MaxExpandedNodes = 200_000

// checkUTF8 reports the first invalid UTF-8 byte at its line and column
// (the YAML decoder only says that one exists).
func checkUTF8(file string, data []byte) *Error {
	if utf8.Valid(data) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &Error{Pos: Pos{File: file, Line: line, Col: col},
				Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x); save the file as UTF-8", data[i])}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// CheckAliases reports a document whose aliases expand to more than
// MaxExpandedNodes nodes, at the alias where the count went over. It counts
// sizes without expanding anything, so it is cheap on any input.
func CheckAliases(file string, doc *yaml.Node) *Error {
	sizes := map[*yaml.Node]int{}
	var bad *yaml.Node
	var size func(n *yaml.Node, depth int) int
	size = func(n *yaml.Node, depth int) int {
		if n == nil || bad != nil {
			return 0
		}
		if s, ok := sizes[n]; ok {
			return s
		}
		if depth > 10_000 {
			bad = n
			return MaxExpandedNodes + 1
		}
		sizes[n] = MaxExpandedNodes + 1 // an alias cycle counts as too big
		total := 1
		if n.Kind == yaml.AliasNode {
			total = size(n.Alias, depth+1)
		} else {
			for _, c := range n.Content {
				total += size(c, depth+1)
				if total > MaxExpandedNodes {
					break
				}
			}
		}
		if total > MaxExpandedNodes && bad == nil {
			bad = n
		}
		sizes[n] = total
		return total
	}
	if size(doc, 0) <= MaxExpandedNodes && bad == nil {
		return nil
	}
	// Blame the first alias, in file order, whose expansion is big; a
	// document without aliases is as big as it is written and passes.
	at := firstAlias(doc, sizes, MaxExpandedNodes/16)
	if at == nil {
		if at = firstAlias(doc, sizes, 0); at == nil {
			return nil
		}
	}
	return &Error{Pos: Pos{File: file, Line: at.Line, Col: at.Column},
		Msg: fmt.Sprintf("YAML aliases expand the document to more than %d nodes; this alias is where it gets big. Write the values out or nest fewer aliases", MaxExpandedNodes)}
}

// firstAlias returns the first alias node in file order (aliases are not
// followed) whose expansion has more than over nodes.
func firstAlias(n *yaml.Node, sizes map[*yaml.Node]int, over int) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if s, ok := sizes[n]; ok && s > over {
			return n
		}
		return nil
	}
	for _, c := range n.Content {
		if a := firstAlias(c, sizes, over); a != nil {
			return a
		}
	}
	return nil
}

// secure checks what the rest of the parser accepts as text but what must
// not reach the file system or a process: every uses: and every name that
// becomes an environment variable.
func (p *parser) secure(root *yaml.Node) {
	root = resolveAlias(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	p.envKeys(yamlnode.MapValue(root, "env"))
	jobs := resolveAlias(yamlnode.MapValue(root, "jobs"))
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		job := resolveAlias(jobs.Content[i+1])
		if job == nil || job.Kind != yaml.MappingNode {
			continue
		}
		if u := yamlnode.MapValue(job, "uses"); u != nil && u.Kind == yaml.ScalarNode {
			p.checkUsesPath(u, u.Value, "reusable workflow")
		}
		p.envKeys(yamlnode.MapValue(job, "env"))
		p.envKeys(yamlnode.MapValue(job, "with"))
		if c := resolveAlias(yamlnode.MapValue(job, "container")); c != nil && c.Kind == yaml.MappingNode {
			p.envKeys(yamlnode.MapValue(c, "env"))
		}
		if svcs := resolveAlias(yamlnode.MapValue(job, "services")); svcs != nil && svcs.Kind == yaml.MappingNode {
			for j := 1; j < len(svcs.Content); j += 2 {
				if s := resolveAlias(svcs.Content[j]); s != nil && s.Kind == yaml.MappingNode {
					p.envKeys(yamlnode.MapValue(s, "env"))
				}
			}
		}
		p.secureSteps(yamlnode.MapValue(job, "steps"))
	}
}

// secureSteps checks the uses:, env: and with: of a list of steps.
func (p *parser) secureSteps(steps *yaml.Node) {
	steps = resolveAlias(steps)
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return
	}
	for _, s := range steps.Content {
		s = resolveAlias(s)
		if s == nil || s.Kind != yaml.MappingNode {
			continue
		}
		if u := yamlnode.MapValue(s, "uses"); u != nil && u.Kind == yaml.ScalarNode {
			p.checkUsesPath(u, u.Value, "action")
		}
		p.envKeys(yamlnode.MapValue(s, "env"))
		p.envKeys(yamlnode.MapValue(s, "with")) // inputs become INPUT_<NAME> variables
	}
}

// checkUsesPath refuses a uses: that could name a folder outside the
// workspace or the action cache.
func (p *parser) checkUsesPath(n *yaml.Node, uses, what string) {
	u := strings.TrimSpace(uses)
	switch {
	case u == "" || strings.HasPrefix(u, "docker://"):
		return
	case strings.ContainsAny(u, "\x00\\"):
		p.errorf(n, "%s %q contains a NUL or a backslash", what, uses)
	case strings.HasPrefix(u, "./"):
		if c := path.Clean(u); c == ".." || strings.HasPrefix(c, "../") {
			p.errorf(n, "%s %q leaves the repository; local actions and workflows must live in it", what, uses)
		}
	case actionurl.Is(u) && strings.Contains(u, "@"): // uses: https://host/owner/repo@ref (Gitea, Forgejo)
		if _, err := actionurl.Parse(u); err != nil {
			p.errorf(n, "%s: %v", what, err)
		}
	default:
		repoPath, ref, ok := strings.Cut(u, "@")
		if !ok {
			return // the missing version is reported elsewhere
		}
		if err := safepath.CheckSegments("the path", repoPath); err != nil {
			p.errorf(n, "%s %q: %v; write owner/repo[/path]@ref", what, uses, err)
			return
		}
		if err := safepath.CheckRef(ref); err != nil {
			p.errorf(n, "%s %q: %v; pin a tag, a branch or a commit SHA", what, uses, err)
		}
	}
}

// envKeys refuses names that no process environment can hold, and values
// with a NUL, at the key.
func (p *parser) envKeys(m *yaml.Node) {
	m = resolveAlias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], resolveAlias(m.Content[i+1])
		if err := envfile.InvalidName(k.Value); err != nil && k.Value != "" {
			p.errorf(k, "%v; use letters, digits and _", err)
			continue
		}
		if v != nil && v.Kind == yaml.ScalarNode {
			if err := envfile.InvalidValue(k.Value, v.Value); err != nil {
				p.errorf(v, "%v", err)
			}
		}
	}
}
