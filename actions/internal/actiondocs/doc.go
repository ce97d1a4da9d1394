// Package actiondocs holds the test that keeps each action's README true to
// its action.yml: every input and output documented, every example workflow
// valid, every example's `with:` naming real inputs.
package actiondocs
