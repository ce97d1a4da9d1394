package workflow

import (
	"strings"
	"testing"
)

const okJob = "\n    runs-on: x\n    steps: [{run: echo}]\n"

// TestGitHubRules checks each rule that makes validation agree with GitHub,
// with GitHub's message at GitHub's position (want "" means valid).
func TestGitHubRules(t *testing.T) {
	tests := []struct{ name, src, want string }{
		// accepted as GitHub accepts them
		{"anchors in on filters", "on:\n  push:\n    branches: &b [main]\n  pull_request:\n    branches: *b\n    types: &t [opened]\n  issues:\n    types: *t\njobs:\n  a:" + okJob, ""},
		{"anchored job", "on: push\njobs:\n  a: &j" + okJob + "  b: *j\n", ""},
		{"core schema tags", "on: push\njobs:\n  a:\n    runs-on: !!str x\n    timeout-minutes: !!int 5\n    continue-on-error: !!bool TRUE\n    steps: [{run: echo}]\n", ""},
		{"whole-value env everywhere", "on: push\nenv: ${{ fromJSON(vars.E) }}\njobs:\n  a:\n    runs-on: x\n    env: ${{ matrix.env }}\n    container:\n      image: i\n      env: ${{ matrix.env }}\n      credentials: ${{ secrets.CREDS }}\n    services:\n      s:\n        image: i\n        env: ${{ matrix.env }}\n        credentials: ${{ secrets.CREDS }}\n        entrypoint: sh\n        command: -c 'sleep 1'\n    steps:\n      - run: echo\n        env: ${{ matrix.env }}\n", ""},
		{"non-breaking space in an expression", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ github.sha\u00a0}}\n", ""},
		{"job with arguments to success()", "on: push\njobs:\n  a:" + okJob + "  b:\n    needs: a\n    if: success('a') || failure('a')" + okJob, ""},
		{"GitHub's extra keys", "on:\n  image_version:\n    names: [n]\n    versions: [v]\n  workflow_dispatch:\n    inputs:\ndescription: d\njobs:\n  a:\n    runs-on: x\n    cancel-timeout-minutes: 5\n    concurrency: {group: g, queue: max}\n", ""},
		{"deprecationMessage on workflow_dispatch", "on:\n  workflow_dispatch:\n    inputs:\n      a: {deprecationMessage: old}\njobs:\n  a:" + okJob, ""},
		{"org/ and ent/ runner groups", "on: push\njobs:\n  a:\n    runs-on: {group: org/g}\n    steps: [{run: echo}]\n  b:\n    runs-on: {group: enterprise/g}\n    steps: [{run: echo}]\n", ""},
		// rejected as GitHub rejects them
		{"job ids equal ignoring case", "on: push\njobs:\n  build:" + okJob + "  BUILD:" + okJob, "6:3: 'BUILD' is already defined"},
		{"job id with __", "on: push\njobs:\n  __a:" + okJob, "3:3: The identifier '__a' is invalid. IDs starting with '__' are reserved."},
		{"step id with __", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{id: __s, run: echo}]\n", "The identifier '__s' is invalid. IDs starting with '__' are reserved."},
		{"container without image", "on: push\njobs:\n  a:\n    runs-on: x\n    container:\n      options: --cpus 1\n    steps: [{run: echo}]\n", "6:7: Container image cannot be empty"},
		{"service without image", "on: push\njobs:\n  a:\n    runs-on: x\n    services:\n      db:\n        ports: [1]\n    steps: [{run: echo}]\n", "7:9: Container image cannot be empty"},
		{"invalid value for a tag", "on: push\njobs:\n  a:\n    runs-on: !!bool maybe\n    steps: [{run: echo}]\n", "The value 'maybe' on line 4 and column 14 is invalid for the type 'tag:yaml.org,2002:bool'"},
		{"unsupported tag", "on: push\njobs:\n  a:\n    runs-on: !!timestamp 2022-10-26\n    steps: [{run: echo}]\n", "Unexpected tag 'tag:yaml.org,2002:timestamp'"},
		{"quoted int", "on: push\njobs:\n  a:\n    runs-on: x\n    timeout-minutes: !!int \"5\"\n    steps: [{run: echo}]\n", "The scalar style 'DoubleQuoted' on line 5 and column 22 is not valid with the tag 'tag:yaml.org,2002:int'"},
		{"expression too long", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: ${{ github.sha }}" + strings.Repeat("x", 21000) + "\n", "6:14: Exceeded max expression length 21000"},
		{"matrix nested too deeply", "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        m: " + strings.Repeat("[", 48) + "1" + strings.Repeat("]", 48) + "\n    steps: [{run: echo}]\n", "Maximum object depth exceeded"},
		{"deprecationMessage on workflow_call", "on:\n  workflow_call:\n    inputs:\n      a: {type: string, deprecationMessage: old}\njobs:\n  a:" + okJob, "4:25: Unexpected value 'deprecationMessage'"},
		{"bad runner group", "on: push\njobs:\n  a:\n    runs-on: {group: team/g}\n    steps: [{run: echo}]\n", "4:22: Invalid runs-on group name 'team/g'. Please use 'organization/' or 'enterprise/' prefix"},
		{"unknown need at the entry", "on: push\njobs:\n  a:" + okJob + "  b:\n    needs: [a, nope]\n" + okJob[1:], "7:16: Job 'b' depends on unknown job 'nope'."},
		{"cycle at the entry", "on: push\njobs:\n  a:" + okJob + "  b:\n    needs: [a, c]" + okJob + "  c:\n    needs: b" + okJob, "7:16: Job 'b' depends on job 'c' which creates a cycle in the dependency graph."},
		{"no start job", "on: push\njobs:\n  a:\n    needs: b" + okJob + "  b:\n    needs: a" + okJob, "3:3: The workflow must contain at least one job with no dependencies."},
		{"non-ASCII symbol decoded in the message", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ 'é' == ü }}\n", "6:14: Unexpected symbol: 'ü'. Located at position 8 within expression: 'é' == ü"},
		{"unknown context", "on: push\njobs:\n  a:\n    runs-on: x\n    concurrency: ${{ secrets.foo }}\n    steps: [{run: echo}]\n", "5:18: Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.foo"},
		{"empty expression", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'echo ${{ }}'}]\n", "An expression was expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("w.yml", []byte(tt.src))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("GitHub accepts this, we reject it:\n%v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "w.yml:"+tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error containing %q, got:\n%v", tt.want, err)
			}
			if strings.Contains(tt.want, ": ") && tt.want[0] >= '0' && tt.want[0] <= '9' && !strings.Contains(err.Error(), "w.yml:"+tt.want) {
				t.Fatalf("want the error at %q, got:\n%v", tt.want, err)
			}
		})
	}
}

// Unknown keys under on.<event> are warnings: GitHub ignores them.
func TestUnknownEventKeysAreWarnings(t *testing.T) {
	wf, err := Parse("w.yml", []byte("on:\n  workflow_dispatch:\n    unknown-key: x\n  push:\n    branch: main\njobs:\n  a:"+okJob))
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	var got []string
	for _, w := range wf.Warnings {
		got = append(got, w.Error())
	}
	want := []string{`w.yml:3:5: unknown key "unknown-key" for event "workflow_dispatch" is ignored`, `w.yml:5:5: unknown key "branch" for event "push" is ignored`}
	if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}

// Aliases are resolved before on: is read, so filters written as aliases
// hold their values.
func TestAliasedFiltersKeepTheirValues(t *testing.T) {
	wf, err := Parse("w.yml", []byte("on:\n  push:\n    branches: &b [main, 'rel/**']\n  pull_request:\n    branches: *b\njobs:\n  a:"+okJob))
	if err != nil {
		t.Fatal(err)
	}
	if f := wf.On.Events["pull_request"]; f == nil || strings.Join(f.Branches, ",") != "main,rel/**" {
		t.Errorf("pull_request branches = %+v", f)
	}
	if wf.Jobs[0].EnvExpr != "" {
		t.Errorf("EnvExpr set without a whole-value env")
	}
	wf, err = Parse("w.yml", []byte("on: push\njobs:\n  a:\n    runs-on: x\n    env: ${{ matrix.env }}\n"))
	if err != nil || wf.Jobs[0].EnvExpr != "${{ matrix.env }}" {
		t.Errorf("whole-value job env = %q, %v", wf.Jobs[0].EnvExpr, err)
	}
}
