// Command dispatch is the entrypoint of the actions image: it runs the action
// named by its first argument. It is a Go program, not a shell script, because
// shells such as dash drop INPUT_* variables whose names hold a hyphen.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const dir = "/opt/gantry/actions"

func main() {
	if len(os.Args) < 2 || os.Args[1] == "" || os.Args[1] == "dispatch" || filepath.Base(os.Args[1]) != os.Args[1] {
		fmt.Fprintln(os.Stderr, "::error::name the Gantry action to run (build, test, ...) as the first argument")
		os.Exit(2)
	}
	bin := filepath.Join(dir, os.Args[1])
	if err := syscall.Exec(bin, append([]string{bin}, os.Args[2:]...), os.Environ()); err != nil {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if e.Name() != "dispatch" {
				names = append(names, e.Name())
			}
		}
		fmt.Fprintf(os.Stderr, "::error::cannot run Gantry action %q: %v (available: %v)\n", os.Args[1], err, names)
		os.Exit(2)
	}
}
