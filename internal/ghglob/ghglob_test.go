package ghglob

import (
	"strings"
	"testing"
)

// Cases from GitHub's filter pattern cheat sheet.
func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"feature/*", []string{"feature/my-branch", "feature/your-branch"}, []string{"feature/a/b", "main"}},
		{"feature/**", []string{"feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"}, []string{"features/x"}},
		{"main", []string{"main"}, []string{"main2", "amain"}},
		{"releases/mona-the-octocat", []string{"releases/mona-the-octocat"}, nil},
		{"*", []string{"main", "releases"}, []string{"releases/x"}},
		{"**", []string{"all/the/branches", "every/tag"}, nil},
		{"*feature", []string{"mona-feature", "feature", "ver-10-feature"}, []string{"feature-x"}},
		{"v2*", []string{"v2", "v2.0", "v2.9"}, []string{"v1"}},
		{"v[12].[0-9]+.[0-9]+", []string{"v1.10.1", "v2.0.0"}, []string{"v3.0.0", "v1.x.1"}},
		{"*.js", []string{"app.js", "index.js"}, []string{"js/index.js"}},
		{"**.js", []string{"index.js", "js/index.js", "src/js/app.js"}, nil},
		{"docs/*", []string{"docs/README.md", "docs/file.txt"}, []string{"docs/a/b"}},
		{"docs/**", []string{"docs/README.md", "docs/mona/octocat.txt"}, nil},
		{"docs/**/*.md", []string{"docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"}, []string{"docs/x.txt"}},
		{"**/docs/**", []string{"docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"}, nil},
		{"**/README.md", []string{"README.md", "js/README.md"}, []string{"README.mdx"}},
		{"**/*src/**", []string{"a/src/app.js", "my-src/code/js/app.js"}, nil},
		{"**/*-post.md", []string{"my-post.md", "path/their-post.md"}, nil},
		{"**/migrate-*.sql", []string{"migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"}, nil},
		{"*.md", []string{"README.md"}, []string{"docs/README.md"}},
		{"colou?r", []string{"color", "colour"}, []string{"colouur"}},
		{`a\*b`, []string{"a*b"}, []string{"axb"}},
		{"*.jsx?", []string{"page.js", "page.jsx"}, []string{"page.jsxx", "a/page.js"}},
		{"[CB]at", []string{"Cat", "Bat"}, []string{"cat", "Hat", "CBat"}},
		{"[1-2]00", []string{"100", "200"}, []string{"300", "00"}},
		{"v[0-9a-z]", []string{"v0", "vz"}, []string{"vA", "v"}},
		{"ab+c", []string{"abc", "abbbc"}, []string{"ac"}},
		{"releases/**-alpha", []string{"releases/v1/x-alpha", "releases/-alpha"}, []string{"releases/v1-beta"}},
		{`\[x\]`, []string{"[x]"}, []string{"x"}},
		{`[\]a]`, []string{"]", "a"}, []string{"b"}},
		{"[-a]", []string{"-", "a"}, []string{"b"}},
		{"a.b", []string{"a.b"}, []string{"axb"}},
		{"(x)|y", []string{"(x)|y"}, []string{"x", "y"}},
		{"*+", []string{"", "abc"}, []string{"a/b"}},
		{"a?+", []string{"", "aaa"}, []string{"b"}},
		{"é*", []string{"é", "éx"}, []string{"e"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		for _, s := range tt.match {
			if !p.Match(s) {
				t.Errorf("%q should match %q", tt.pattern, s)
			}
		}
		for _, s := range tt.noMatch {
			if p.Match(s) {
				t.Errorf("%q should not match %q", tt.pattern, s)
			}
		}
	}
}

func TestMatchListOrder(t *testing.T) {
	list := []string{"sub-package/**", "!sub-package/docs/**", "sub-package/docs/keep.md"}
	for s, want := range map[string]bool{
		"sub-package/a.go":         true,
		"sub-package/docs/x.md":    false,
		"sub-package/docs/keep.md": true,
		"other/a.go":               false,
	} {
		got, err := MatchList(list, s)
		if err != nil || got != want {
			t.Errorf("MatchList(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{"", "!", "a[", `a\`, "[]", "?a", "!+", "[z-a]", `[a\`} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) should fail", p)
		}
	}
}

// The cheat sheet's examples of negative path patterns, and the same through
// a compiled List.
func TestMatchListCheatSheet(t *testing.T) {
	tests := []struct {
		patterns []string
		match    []string
		noMatch  []string
	}{
		{[]string{"*.md", "!README.md"}, []string{"hello.md"}, []string{"README.md", "docs/hello.md"}},
		{[]string{"*.md", "!README.md", "README*"}, []string{"hello.md", "README.md", "README.doc"}, []string{"docs/hello.md"}},
		{[]string{"releases/**", "!releases/**-alpha"}, []string{"releases/v1"}, []string{"releases/beta/3-alpha"}},
		{nil, nil, []string{"main"}},
		{[]string{"!main"}, nil, []string{"main", "dev"}},
	}
	for _, tt := range tests {
		l, err := CompileList(tt.patterns)
		if err != nil {
			t.Fatalf("%v: %v", tt.patterns, err)
		}
		for _, s := range tt.match {
			if !l.Match(s) {
				t.Errorf("List %v should select %q", tt.patterns, s)
			}
			if ok, err := MatchList(tt.patterns, s); !ok || err != nil {
				t.Errorf("MatchList(%v, %q) = %v, %v", tt.patterns, s, ok, err)
			}
		}
		for _, s := range tt.noMatch {
			if l.Match(s) {
				t.Errorf("List %v should not select %q", tt.patterns, s)
			}
			if ok, err := MatchList(tt.patterns, s); ok || err != nil {
				t.Errorf("MatchList(%v, %q) = %v, %v", tt.patterns, s, ok, err)
			}
		}
	}
	if _, err := MatchList([]string{"ok", "bad["}, "ok"); err == nil {
		t.Error("MatchList should report an invalid pattern")
	}
	if _, err := CompileList([]string{"bad["}); err == nil {
		t.Error("CompileList should report an invalid pattern")
	}
}

func BenchmarkMatchList(b *testing.B) {
	patterns := []string{"docs/**", "!docs/internal/**", "**/*.md", "src/**/*.go"}
	for i := 0; i < b.N; i++ {
		if ok, _ := MatchList(patterns, "src/a/b/c/main.go"); !ok {
			b.Fatal("no match")
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"feature/**", "v[12].[0-9]+", "!docs/*.md", `a\*`} {
		f.Add(s, "feature/x")
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		p.Match(s)
		// A pattern without special characters matches exactly itself.
		if !strings.ContainsAny(pattern, `*?+[]\\!`) && !p.Match(pattern) {
			t.Errorf("literal pattern %q does not match itself", pattern)
		}
	})
}
