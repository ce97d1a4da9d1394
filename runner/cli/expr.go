package cli

import (
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/spf13/cobra"
)

func newExprCmd(stdio IO) *cobra.Command {
	var contextsFile string
	cmd := &cobra.Command{
		Use:   "expr EXPRESSION",
		Short: "Evaluate a ${{ }} expression and print the result as JSON",
		Long: `Evaluate one expression (with or without the ${{ }} around it; put -- before
one that starts with -, e.g. gantry expr -- -1) and print
{"kind":"String|Number|Boolean|Null|Array|Object","value":...}, or
{"error":{"kind":"parsing|evaluation","message":"..."}} with exit code 1.

--contexts reads a JSON object whose top-level keys are the named values the
expression may use (any names, as in GitHub's own test vectors), e.g.
{"github": {"event_name": "push"}, "matrix": {"os": "linux"}}. Objects keep
their key order. Without --contexts, GitHub's workflow context names are known
and all are empty.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			contexts := map[string]any{}
			var names []string // nil: GitHub's workflow contexts
			if contextsFile != "" {
				data, err := readFile(contextsFile)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				v, err := expr.DecodeJSON(data)
				obj, ok := v.(*expr.Object)
				if err != nil || !ok {
					if err == nil {
						err = fmt.Errorf("the top level is %s", expr.Kind(v))
					}
					return withCode(ExitUsage, fmt.Errorf("%s: not a JSON object of named values: %w", contextsFile, err))
				}
				names = obj.Keys()
				for _, k := range names {
					contexts[k], _ = obj.Get(k)
				}
			}
			src := unwrapExpr(args[0])
			var v any
			var err error
			// A blank expression is null, as in GitHub's expression engine
			// (a workflow's ${{ }} is an error: gantry validate says so).
			if strings.TrimSpace(src) != "" {
				var e *expr.Expr
				if e, err = expr.ParseWith(src, names, nil); err == nil {
					v, err = e.EvalValue(&expr.Env{Contexts: contexts})
				}
			}
			fmt.Fprintln(stdio.Out, string(expr.Result(v, err)))
			if err != nil {
				return withCode(ExitFailure, nil)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&contextsFile, "contexts", "", "JSON file with the contexts (github, env, matrix, ...)")
	return cmd
}

// unwrapExpr strips one surrounding ${{ }}.
func unwrapExpr(s string) string {
	t := s
	for len(t) > 0 && (t[0] == ' ' || t[0] == '\t' || t[0] == '\n') {
		t = t[1:]
	}
	for len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t' || t[len(t)-1] == '\n') {
		t = t[:len(t)-1]
	}
	if len(t) >= 5 && t[:3] == "${{" && t[len(t)-2:] == "}}" {
		return t[3 : len(t)-2]
	}
	return s
}
