package jobenv

import (
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/shellwords"
)

// ShellCommand turns a step's shell: into argv for the script at scriptPath,
// following GitHub's table for Linux runners. lookPath finds programs where
// the job runs.
func ShellCommand(shell, scriptPath string, lookPath func(string) (string, error)) ([]string, error) {
	shell = strings.TrimSpace(shell)
	switch shell {
	case "":
		if p, err := lookPath("bash"); err == nil {
			return []string{p, "-e", scriptPath}, nil
		}
		p, err := lookPath("sh")
		if err != nil {
			return nil, fmt.Errorf("neither bash nor sh is on PATH")
		}
		return []string{p, "-e", scriptPath}, nil
	case "bash":
		return program(lookPath, "bash", "--noprofile", "--norc", "-eo", "pipefail", scriptPath)
	case "sh":
		return program(lookPath, "sh", "-e", scriptPath)
	case "python":
		argv, err := program(lookPath, "python", scriptPath)
		if err != nil {
			// Debian and many images only have python3.
			return program(lookPath, "python3", scriptPath)
		}
		return argv, nil
	case "pwsh":
		return program(lookPath, "pwsh", "-command", ". '"+scriptPath+"'")
	case "powershell", "cmd":
		return nil, fmt.Errorf("shell %q only exists on Windows runners; use bash, sh, pwsh or python", shell)
	}
	if !strings.Contains(shell, "{0}") {
		return nil, fmt.Errorf("custom shell %q must contain {0} where the script path goes, e.g. \"perl {0}\"", shell)
	}
	fields, err := shellwords.Split(strings.ReplaceAll(shell, "{0}", scriptPath))
	if err != nil {
		return nil, fmt.Errorf("custom shell: %w", err)
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("custom shell %q is empty", shell)
	}
	p, err := lookPath(fields[0])
	if err != nil {
		return nil, fmt.Errorf("shell %q: %w", fields[0], err)
	}
	fields[0] = p
	return fields, nil
}

func program(lookPath func(string) (string, error), name string, args ...string) ([]string, error) {
	p, err := lookPath(name)
	if err != nil {
		return nil, fmt.Errorf("shell %s: %w", name, err)
	}
	return append([]string{p}, args...), nil
}

// ScriptExtension is the file extension a shell needs for its script.
func ScriptExtension(shell string) string {
	first := strings.Fields(shell)
	name := ""
	if len(first) > 0 {
		name = first[0]
	}
	switch {
	case strings.HasPrefix(name, "python"):
		return ".py"
	case name == "pwsh" || name == "powershell":
		return ".ps1"
	case name == "cmd":
		return ".cmd"
	}
	return ".sh"
}
