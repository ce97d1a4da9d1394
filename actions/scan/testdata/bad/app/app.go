// Package app is insecure on purpose: the scanner's test corpus.
package app

import (
	"crypto/md5"
	"fmt"
	"os"
	"os/exec"
)

// Run runs what the user typed.
func Run(userInput string) error {
	return exec.Command("sh", "-c", userInput).Run()
}

// Sum uses a broken hash.
func Sum(b []byte) string {
	return fmt.Sprintf("%x", md5.Sum(b))
}

// Save writes a world-writable file.
func Save(b []byte) error {
	return os.WriteFile("/tmp/out", b, 0o777)
}

// Checked is reviewed and suppressed.
func Checked(b []byte) error {
	return os.WriteFile("/tmp/checked", b, 0o666) // #nosec G306 G303 -- fixture: a shared scratch file
}
