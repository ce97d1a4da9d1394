// Command tool prints its version the ways CLIs do.
package main

import (
	"fmt"

	"example.com/tool/internal/version"
)

func main() {
	mv, rev, mod := version.Module()
	fmt.Printf("version=%s commit=%s date=%s module=%s revision=%s modified=%s\n", version.Version, version.GitCommit, version.BuildDate, mv, rev, mod)
}
