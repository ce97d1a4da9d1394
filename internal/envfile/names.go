package envfile

import (
	"fmt"
	"strings"
)

// InvalidName reports a name no process environment can hold: empty, or
// with NUL or '=' (exec refuses the first; the second would turn A=B into
// a variable A whose value starts with B=).
func InvalidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an environment variable name is empty")
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("environment variable name %q contains a NUL byte", name)
	case strings.IndexByte(name, '=') >= 0:
		return fmt.Errorf("environment variable name %q contains '='", name)
	}
	return nil
}

// InvalidValue reports a value no process environment can hold.
func InvalidValue(name, value string) error {
	if strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("the value of environment variable %q contains a NUL byte", name)
	}
	return nil
}
