package evaluate

import (
	"fmt"
	"sort"

	"github.com/gantry-ci/gantry/internal/expr"
)

// Pair is one entry of an evaluated mapping.
type Pair struct{ Key, Value string }

// Mapping evaluates a whole-value mapping such as env: ${{ matrix.env }} or
// credentials: ${{ fromJSON(secrets.CREDS) }}: the expression must give an
// object (or null, for no entries); its values become strings with GitHub's
// coercion. Entries come in key order.
func Mapping(src string, env *expr.Env) ([]Pair, error) {
	v, err := Template(src, env)
	if err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]Pair, 0, len(keys))
		for _, k := range keys {
			out = append(out, Pair{k, expr.ToString(m[k])})
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must give an object (a mapping), not %s", src, expr.Kind(v))
}
