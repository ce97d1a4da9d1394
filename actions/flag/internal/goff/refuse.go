package goff

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrUnsupported marks a documented refusal: a file the in-place editor
// will not touch (multi-line or tagged values, duplicate flags, ...) and
// says why. The file is left as it was.
var ErrUnsupported = errors.New("not supported by the in-place editor")

// ErrEditBug marks an edit whose result did not read back as asked: a bug
// in the editor, never the user's input. Edit returns it instead of the
// corrupted file.
var ErrEditBug = errors.New("the edited file does not read back as asked")

type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrUnsupported }

func refuse(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// checkDuplicates refuses a file naming a flag twice: GO Feature Flag does
// not load it, and an edit could not say which of the two it changed.
func checkDuplicates(root *yaml.Node) error {
	seen := map[string]*yaml.Node{}
	var dups []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if first, ok := seen[k.Value]; ok {
			dups = append(dups, fmt.Sprintf("%d:%d: flag %q is defined twice (first at %d:%d)", k.Line, k.Column, k.Value, first.Line, first.Column))
			continue
		}
		seen[k.Value] = k
	}
	if len(dups) > 0 {
		return refuse("%s; GO Feature Flag does not load such a file: remove one", strings.Join(dups, "; "))
	}
	return nil
}
