package ghglob

import "testing"

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
	for _, p := range []string{"", "!", "a[", `a\`, "[]"} {
		if _, err := Compile(p); err == nil {
			t.Errorf("Compile(%q) should fail", p)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"feature/**", "v[12].[0-9]+", "!docs/*.md", `a\*`} {
		f.Add(s, "feature/x")
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if p, err := Compile(pattern); err == nil {
			p.Match(s)
		}
	})
}
