// Package e2e holds the end-to-end tests that run Gantry's actions as
// `uses: ./actions/<name>` steps under Gantry's runner on a real Docker engine.
package e2e
