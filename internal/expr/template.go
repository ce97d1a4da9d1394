package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/ghglob"
)

// Template is a string that may hold ${{ }} expressions.
type Template struct {
	parts []part
}

type part struct {
	lit  string
	expr *Expr
}

// ParseTemplate parses a string with embedded ${{ }} expressions. Error
// offsets are into s.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	i := 0
	for {
		start := strings.Index(s[i:], "${{")
		if start < 0 {
			if i < len(s) {
				t.parts = append(t.parts, part{lit: s[i:]})
			}
			return t, nil
		}
		start += i
		if start > i {
			t.parts = append(t.parts, part{lit: s[i:start]})
		}
		end := closing(s, start+3)
		if end < 0 {
			return nil, parseErr(start, "unclosed ${{: add }} to end the expression")
		}
		src := s[start+3 : end]
		e, err := Parse(src)
		if err != nil {
			if pe, ok := err.(*Error); ok {
				pe.Offset += start + 3
			}
			return nil, err
		}
		t.parts = append(t.parts, part{expr: e})
		i = end + 2
	}
}

// closing finds the }} that ends an expression starting at i, skipping string
// literals.
func closing(s string, i int) int {
	inStr := false
	for j := i; j < len(s); j++ {
		c := s[j]
		if inStr {
			if c == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					j++
					continue
				}
				inStr = false
			}
			continue
		}
		if c == '\'' {
			inStr = true
			continue
		}
		if c == '}' && j+1 < len(s) && s[j+1] == '}' {
			return j
		}
	}
	return -1
}

// IsLiteral reports whether the template holds no expression.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Exprs lists the template's expressions.
func (t *Template) Exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// Eval evaluates the template: exactly one expression and nothing else gives
// its value; otherwise the parts are joined as strings.
func (t *Template) Eval(env *Env) (any, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr.Eval(env)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil {
			return nil, err
		}
		b.WriteString(ToString(v))
	}
	return b.String(), nil
}

var statusFuncs = map[string]bool{"success": true, "failure": true, "always": true, "cancelled": true}

// EvalCondition evaluates an if: condition, written with or without ${{ }}.
// Without a status function, success() && (condition) is implied.
func EvalCondition(src string, env *Env) (bool, error) {
	s := strings.TrimSpace(src)
	if env == nil {
		env = &Env{}
	}
	var exprs []*Expr
	var eval func() (any, error)
	if strings.Contains(s, "${{") {
		t, err := ParseTemplate(s)
		if err != nil {
			return false, err
		}
		exprs = t.Exprs()
		eval = func() (any, error) { return t.Eval(env) }
	} else {
		e, err := Parse(s)
		if err != nil {
			return false, err
		}
		exprs = []*Expr{e}
		eval = func() (any, error) { return e.Eval(env) }
	}
	usesStatus := false
	for _, e := range exprs {
		for _, f := range e.Functions() {
			if statusFuncs[f] {
				usesStatus = true
			}
		}
	}
	if !usesStatus {
		ok := true
		if env.Status != nil {
			ok = env.Status("success")
		}
		if !ok {
			return false, nil
		}
	}
	v, err := eval()
	if err != nil {
		return false, err
	}
	return Truthy(v), nil
}

// Result is the JSON gantry expr prints for a value or an error.
func Result(v any, err error) []byte {
	var out any
	if err != nil {
		kind, msg := "evaluation", err.Error()
		if e, ok := err.(*Error); ok {
			kind = e.Kind
		}
		out = map[string]any{"error": map[string]any{"kind": kind, "message": msg}}
	} else {
		out = map[string]any{"kind": Kind(v), "value": jsonSafe(plain(v))}
	}
	b, _ := json.Marshal(out)
	return b
}

// HashFiles implements hashFiles() as GitHub does: the files under workspace
// matching the patterns (with ! exclusions), each file hashed with SHA-256,
// and the hashes hashed in path order. No match gives "".
func HashFiles(workspace string, patterns []string) (string, error) {
	var pats []string
	for _, p := range patterns {
		for _, line := range strings.Split(p, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				pats = append(pats, strings.TrimPrefix(line, "./"))
			}
		}
	}
	for _, p := range pats {
		if _, err := ghglob.Compile(p); err != nil {
			return "", err
		}
	}
	var files []string
	err := filepath.WalkDir(workspace, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(workspace, path)
		if err != nil {
			return nil
		}
		if ok, _ := ghglob.MatchList(pats, filepath.ToSlash(rel)); ok {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("walk %s: %w", workspace, err)
	}
	if len(files) == 0 {
		return "", nil
	}
	sort.Strings(files)
	all := sha256.New()
	for _, f := range files {
		h := sha256.New()
		fh, err := os.Open(f)
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", f, err)
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", f, err)
		}
		all.Write(h.Sum(nil))
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
