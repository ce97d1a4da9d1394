package flagd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	schema "github.com/open-feature/flagd-schemas/json"
	"github.com/open-feature/flagd/core/pkg/evaluator"
	"github.com/open-feature/flagd/core/pkg/logger"
	"github.com/open-feature/flagd/core/pkg/model"
	"github.com/open-feature/flagd/core/pkg/store"
	flagsync "github.com/open-feature/flagd/core/pkg/sync"
	"github.com/xeipuuv/gojsonschema"
	"go.uber.org/zap"
)

// maxProblems caps the problems Validate lists; the rest are counted.
const maxProblems = 20

var (
	schemaOnce sync.Once
	compiled   *gojsonschema.Schema
	schemaErr  error

	// coreMu serialises use of flagd core: building its evaluator registers
	// JsonLogic operators in a global map that evaluation reads.
	coreMu sync.Mutex
)

// flagSchema compiles flagd's published flag and targeting schemas, the ones
// flagd core itself checks files against.
func flagSchema() (*gojsonschema.Schema, error) {
	schemaOnce.Do(func() {
		l := gojsonschema.NewSchemaLoader()
		if err := l.AddSchemas(gojsonschema.NewStringLoader(schema.TargetingSchema)); err != nil {
			schemaErr = fmt.Errorf("loading flagd's targeting schema: %w", err)
			return
		}
		compiled, schemaErr = l.Compile(gojsonschema.NewStringLoader(schema.FlagSchema))
		if schemaErr != nil {
			schemaErr = fmt.Errorf("compiling flagd's flag schema: %w", schemaErr)
		}
	})
	return compiled, schemaErr
}

// problem is one finding at a byte offset.
type problem struct {
	off int
	msg string
}

// Validate implements flags.Document: JSON syntax, flagd's JSON schema,
// default and fractional variants, then loading and evaluating every flag
// with flagd core.
func (Document) Validate(src []byte) error {
	root, err := parseJSON(src)
	if err != nil {
		return jsonError(src, err)
	}
	sch, err := flagSchema()
	if err != nil {
		return err
	}
	var probs []problem
	res, err := sch.Validate(gojsonschema.NewBytesLoader(src))
	if err != nil {
		return fmt.Errorf("running flagd's JSON schema: %w", err)
	}
	for _, e := range res.Errors() {
		if e.Type() == "number_all_of" {
			continue // always comes with the specific error inside the allOf
		}
		path := strings.Split(e.Context().String("\x00"), "\x00")[1:] // drop "(root)"
		field := strings.Join(path, ".")
		msg := e.Description()
		if e.Type() == "number_one_of" && len(path) == 2 && path[0] == "flags" {
			msg = "not a valid flagd flag: it needs \"state\" and \"variants\", all variants of one type (boolean, string, number or object), and any \"defaultVariant\" among them"
		}
		if field != "" && !strings.HasPrefix(msg, field) {
			msg = field + ": " + msg
		}
		probs = append(probs, problem{locate(root, path), msg})
	}
	probs = append(probs, variantProblems(src, root)...)
	if len(probs) == 0 {
		probs = append(probs, coreProblems(src, root)...)
	}
	return report(src, probs)
}

// locate finds the deepest node on a schema error's path.
func locate(n *node, path []string) int {
	for _, p := range path {
		switch n.kind {
		case '{':
			m, ok := n.get(p)
			if !ok {
				return n.start
			}
			n = m.val
		case '[':
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.elems) {
				return n.start
			}
			n = n.elems[i]
		default:
			return n.start
		}
	}
	return n.start
}

// variantProblems checks what the schema cannot: every defaultVariant and
// every variant named in a fractional split exists.
func variantProblems(src []byte, root *node) []problem {
	fm, ok := root.get("flags")
	if !ok || fm.val.kind != '{' {
		return nil
	}
	var probs []problem
	for _, m := range fm.val.members {
		st, err := readFlag(src, flagNode{key: m.key, obj: m.val})
		if err != nil || m.val.kind != '{' {
			continue // the schema reports these
		}
		if dv, ok := m.val.get("defaultVariant"); ok && dv.val.kind == '"' && st.Variants != nil {
			if _, ok := st.Variants[dv.val.str]; !ok {
				probs = append(probs, problem{dv.val.start, unknownVariant(m.key, dv.val.str, st.Variants).Error()})
			}
		}
		if t, ok := m.val.get("targeting"); ok {
			walk(t.val, func(n *node) {
				fr, ok := n.get("fractional")
				if !ok || fr.val.kind != '[' {
					return
				}
				for _, d := range fr.val.elems {
					if d.kind == '[' && len(d.elems) > 0 && d.elems[0].kind == '"' {
						if _, ok := st.Variants[d.elems[0].str]; !ok {
							probs = append(probs, problem{d.elems[0].start, "fractional split: " + unknownVariant(m.key, d.elems[0].str, st.Variants).Error()})
						}
					}
				}
			})
		}
	}
	return probs
}

func walk(n *node, fn func(*node)) {
	fn(n)
	for _, m := range n.members {
		walk(m.val, fn)
	}
	for _, e := range n.elems {
		walk(e, fn)
	}
}

// coreProblems loads the file into flagd core and evaluates each enabled
// flag once, catching what only its loader and JsonLogic engine reject.
func coreProblems(src []byte, root *node) []problem {
	coreMu.Lock()
	defer coreMu.Unlock()
	je, err := load(src)
	if err != nil {
		return []problem{{0, "flagd core rejects the file: " + err.Error()}}
	}
	fm, _ := root.get("flags")
	var probs []problem
	for _, m := range fm.val.members {
		v := je.ResolveAsAnyValue(context.Background(), "validate", m.key, map[string]any{"targetingKey": "gantry-validate"})
		if v.Error == nil || v.Error.Error() == model.FlagDisabledErrorCode {
			continue
		}
		off := m.val.start
		if t, ok := m.val.get("targeting"); ok {
			off = t.val.start
		}
		probs = append(probs, problem{off, fmt.Sprintf("flags.%s: flagd cannot evaluate the flag: %s", m.key, model.GetErrorMessage(v.Error.Error()))})
	}
	return probs
}

func load(src []byte) (*evaluator.JSON, error) {
	je := evaluator.NewJSON(logger.NewLogger(zap.NewNop(), false), store.NewFlags())
	if _, _, err := je.SetState(flagsync.DataSync{FlagData: string(src), Source: "gantry"}); err != nil {
		return nil, err
	}
	return je, nil
}

func report(src []byte, probs []problem) error {
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].off < probs[j].off })
	var lines []string
	seen := map[string]bool{}
	for _, p := range probs {
		line := pos(src, p.off) + ": " + p.msg
		if !seen[line] {
			seen[line] = true
			lines = append(lines, line)
		}
	}
	if len(lines) > maxProblems {
		lines = append(lines[:maxProblems], fmt.Sprintf("... and %d more problems", len(lines)-maxProblems))
	}
	return errors.New("invalid flagd flag file:\n" + strings.Join(lines, "\n"))
}

// Evaluate implements flags.Document with flagd core's own evaluator.
func (Document) Evaluate(src []byte, key string, n int) (map[string]int, error) {
	if _, _, err := findFlag(src, key); err != nil {
		return nil, err
	}
	coreMu.Lock()
	defer coreMu.Unlock()
	je, err := load(src)
	if err != nil {
		return nil, fmt.Errorf("flagd core cannot load the file: %w", err)
	}
	counts := map[string]int{}
	ctx := context.Background()
	for i := range n {
		v := je.ResolveAsAnyValue(ctx, "", key, map[string]any{"targetingKey": "user-" + strconv.Itoa(i)})
		switch {
		case v.Error == nil:
			counts[v.Variant]++
		case v.Error.Error() == model.FlagDisabledErrorCode:
			counts[DisabledKey]++
		default:
			return nil, fmt.Errorf("flagd evaluation of flag %q for user-%d failed: %s", key, i, v.Error)
		}
	}
	return counts, nil
}
