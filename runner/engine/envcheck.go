package engine

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/envfile"
)

// checkSetEnv applies GITHUB_ENV's rules to ::set-env, so the deprecated
// command is no way around them (NODE_OPTIONS above all: it would let a step
// inject code into every later node action).
func checkSetEnv(name, value string) error {
	if err := envfile.CheckEnvName(name); err != nil {
		return err
	}
	return envfile.InvalidValue(name, value)
}

// refuseUnsettable fails the step that wrote a file command naming a
// variable no process can receive: accepted, it would make every later
// step fail to start, each blamed for what this one wrote.
func refuseUnsettable(file string, kvs []envfile.KV) error {
	for _, kv := range kvs {
		err := envfile.InvalidName(kv.Key)
		if err == nil {
			err = envfile.InvalidValue(kv.Key, kv.Value)
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %v; this step wrote it: write NAME=value with a name of letters, digits and _", file, kv.Line, err)
		}
	}
	return nil
}
