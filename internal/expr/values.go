package expr

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// Truthy is GitHub's conversion to boolean.
func Truthy(v any) bool {
	switch x := normal(v).(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// Kind names a value's type as GitHub does.
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case float64, int, int64, int32, uint64, float32:
		return "Number"
	case string:
		return "String"
	case []any, []string, filtered:
		return "Array"
	}
	return "Object"
}

// ToString is GitHub's conversion to string.
func ToString(v any) string {
	switch x := normal(v).(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return formatNumber(x)
	case string:
		return x
	case []any, filtered:
		return "Array"
	}
	return "Object"
}

func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatInt(int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	return strings.Replace(s, "e", "E", 1)
}

// toNumber is GitHub's conversion to number.
func toNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return x
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0
		}
		if f, err := parseNumber(s); err == nil {
			return f
		}
		return nan()
	}
	return nan()
}

func nan() float64      { return math.NaN() }
func inf(s int) float64 { return math.Inf(s) }
func sameRef(a, b any) bool {
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() != rb.Kind() {
		return false
	}
	switch ra.Kind() {
	case reflect.Pointer:
		return ra.Pointer() == rb.Pointer()
	case reflect.Map:
		return ra.Pointer() == rb.Pointer()
	case reflect.Slice:
		return ra.Pointer() == rb.Pointer() && ra.Len() == rb.Len()
	}
	return false
}

// coerce brings two values to a common kind for comparison: null and
// booleans become numbers, and a string compared with a number becomes a
// number. Arrays and objects are never converted.
func coerce(a, b any) (any, any) {
	for i := 0; i < 3; i++ {
		if Kind(a) == Kind(b) {
			return a, b
		}
		switch a.(type) {
		case nil, bool:
			a = toNumber(a)
			continue
		case float64:
			if _, ok := b.(string); ok {
				return a, toNumber(b)
			}
		case string:
			if _, ok := b.(float64); ok {
				return toNumber(a), b
			}
		}
		switch b.(type) {
		case nil, bool:
			b = toNumber(b)
			continue
		}
		break
	}
	return a, b
}

// looseEqual implements == with GitHub's coercion.
func looseEqual(a, b any) bool {
	a, b = coerce(a, b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y // NaN is never equal
	case string:
		y, ok := b.(string)
		return ok && compareFold(x, y) == 0
	case []any, map[string]any, *Object:
		return sameRef(a, b)
	}
	return false
}

// order returns -1, 0 or 1 for a < b, a == b, a > b after coercion, and
// false when the values are not ordered (different kinds, NaN, containers).
func order(a, b any) (int, bool) {
	a, b = coerce(a, b)
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return compareFold(x, y), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case x:
			return 1, true
		}
		return -1, true
	}
	return 0, false
}

func compare(op tokKind, a, b any) bool {
	switch op {
	case tEq:
		return looseEqual(a, b)
	case tNe:
		return !looseEqual(a, b)
	}
	c, ok := order(a, b)
	switch op {
	case tLt:
		return ok && c < 0
	case tGt:
		return ok && c > 0
	case tLe:
		return ok && c <= 0 || looseEqual(a, b)
	case tGe:
		return ok && c >= 0 || looseEqual(a, b)
	}
	return false
}

// upperOrdinal upper-cases s one character at a time with the simple
// (one-to-one) Unicode mapping, as GitHub's ordinal ignore-case comparison
// does. The dotless ı is left alone so that 'ı' is not equal to 'I'.
func upperOrdinal(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	return strings.Map(func(r rune) rune {
		if r == 'ı' {
			return r
		}
		return unicode.ToUpper(r)
	}, s)
}

// compareFold is GitHub's ordinal ignore-case comparison; ==, <, <=,
// startsWith, endsWith and contains all use it so that they agree.
func compareFold(a, b string) int {
	return strings.Compare(upperOrdinal(a), upperOrdinal(b))
}
