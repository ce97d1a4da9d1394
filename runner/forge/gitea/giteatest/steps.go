package giteatest

import "gopkg.in/yaml.v3"

// steps counts the steps of the payload's job, as Gitea stores them when
// it creates the task.
func steps(payload []byte) int {
	var wf struct {
		Jobs map[string]struct {
			Steps []any `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if yaml.Unmarshal(payload, &wf) != nil {
		return 0
	}
	for _, j := range wf.Jobs {
		return len(j.Steps)
	}
	return 0
}
