package goff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	ffclient "github.com/thomaspoignant/go-feature-flag"
	"github.com/thomaspoignant/go-feature-flag/ffcontext"
	"github.com/thomaspoignant/go-feature-flag/model/dto"
	"github.com/thomaspoignant/go-feature-flag/retriever/fileretriever"
	"gopkg.in/yaml.v3"
)

// maxProblems caps the problems Validate lists; the rest are counted.
const maxProblems = 20

// libraryCheck runs GO Feature Flag's own flag validation.
func (f flagNode) libraryCheck() error {
	fl := f.dto.Convert()
	return fl.IsValid()
}

// Field names GO Feature Flag reads, from its own DTO, so typos (which it
// silently ignores) are reported.
var (
	flagFields = yamlFields(reflect.TypeOf(dto.DTO{}))
	ruleFields = yamlFields(reflect.TypeOf(dto.DTO{}.DefaultRule).Elem())
)

func yamlFields(t reflect.Type) map[string]bool {
	fields := map[string]bool{}
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			fields[name] = true
		}
	}
	return fields
}

func known(fields map[string]bool) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Validate implements flags.Document: YAML syntax, field names, then GO
// Feature Flag's decoding and validation of every flag.
func (Document) Validate(src []byte) error {
	root, err := parse(src)
	if err != nil {
		return err
	}
	var probs []string
	add := func(n *yaml.Node, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("%d:%d: ", n.Line, n.Column)+fmt.Sprintf(format, args...))
	}
	unknown := func(flag string, m *yaml.Node, fields map[string]bool, where string) {
		if m == nil || m.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; !fields[k.Value] {
				add(k, "flag %q: unknown %s field %q, which GO Feature Flag ignores (known: %s)", flag, where, k.Value, known(fields))
			}
		}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind != yaml.MappingNode {
			add(v, "flag %q must be a mapping with variations and a defaultRule", k.Value)
			continue
		}
		unknown(k.Value, v, flagFields, "flag")
		_, dr := lookup(v, "defaultRule")
		unknown(k.Value, dr, ruleFields, "defaultRule")
		if _, t := lookup(v, "targeting"); t != nil && t.Kind == yaml.SequenceNode {
			for _, r := range t.Content {
				unknown(k.Value, r, ruleFields, "targeting rule")
			}
		}
		f := flagNode{name: k.Value, key: k, val: v}
		if err := v.Decode(&f.dto); err != nil {
			for _, msg := range decodeErrors(err) {
				probs = append(probs, fmt.Sprintf("line %s: flag %q: %s", msg[0], k.Value, msg[1]))
			}
			continue
		}
		if err := f.libraryCheck(); err != nil {
			add(k, "flag %q: %v", k.Value, err)
		}
	}
	if len(probs) == 0 {
		return nil
	}
	if len(probs) > maxProblems {
		probs = append(probs[:maxProblems], fmt.Sprintf("... and %d more problems", len(probs)-maxProblems))
	}
	return errors.New("invalid GO Feature Flag file:\n" + strings.Join(probs, "\n"))
}

// decodeErrors splits yaml.v3's type errors into (line, message) pairs.
func decodeErrors(err error) [][2]string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return [][2]string{{"?", err.Error()}}
	}
	var out [][2]string
	for _, e := range te.Errors {
		if m := strings.TrimPrefix(e, "line "); m != e {
			if line, msg, ok := strings.Cut(m, ": "); ok {
				out = append(out, [2]string{line, msg})
				continue
			}
		}
		out = append(out, [2]string{"?", e})
	}
	return out
}

// Evaluate implements flags.Document with a GO Feature Flag client reading
// a private copy of the file.
func (Document) Evaluate(src []byte, name string, n int) (counts map[string]int, err error) {
	if _, _, err := findFlag(src, name); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gantry-goff-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	path := filepath.Join(dir, "flags.goff.yaml")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		return nil, err
	}
	client, err := ffclient.New(ffclient.Config{
		// One load is all we need; Close stops the poller.
		PollingInterval: 24 * time.Hour,
		Retriever:       &fileretriever.Retriever{Path: path},
		Context:         context.Background(),
		LeveledLogger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, fmt.Errorf("GO Feature Flag cannot load the file: %w", err)
	}
	defer client.Close()

	counts = map[string]int{}
	for i := range n {
		user := "user-" + strconv.Itoa(i)
		res, err := client.RawVariation(name, ffcontext.NewEvaluationContext(user), nil)
		switch {
		case string(res.Reason) == "DISABLED":
			counts[DisabledKey]++
		case err != nil || res.Failed:
			return nil, fmt.Errorf("GO Feature Flag evaluation of flag %q for %s failed: %s %s %v", name, user, res.ErrorCode, res.ErrorDetails, err)
		default:
			counts[res.VariationType]++
		}
	}
	return counts, nil
}
