package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Object is an expression object that keeps its keys in insertion order, as
// GitHub's objects do (toJSON, .* and [*] list them in that order). Key
// lookup is case-insensitive; setting a key that is already present under
// another case replaces its value in place. Contexts may hold *Object
// values next to map[string]any; Expr.Eval turns them into map[string]any.
type Object struct {
	keys  []string
	vals  []any
	index map[string]int // lower-cased key -> position
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{index: map[string]int{}} }

// Set adds or replaces a key.
func (o *Object) Set(key string, v any) {
	lk := strings.ToLower(key)
	if i, ok := o.index[lk]; ok {
		o.vals[i] = v
		return
	}
	o.index[lk] = len(o.keys)
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
}

// Get looks a key up case-insensitively.
func (o *Object) Get(key string) (any, bool) {
	i, ok := o.index[strings.ToLower(key)]
	if !ok {
		return nil, false
	}
	return o.vals[i], true
}

// Keys lists the keys in insertion order.
func (o *Object) Keys() []string { return append([]string(nil), o.keys...) }

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Plain converts a value that may hold *Object (or a filter result) into
// plain Go values: map[string]any and []any.
func Plain(v any) any {
	switch x := v.(type) {
	case *Object:
		m := make(map[string]any, len(x.keys))
		for i, k := range x.keys {
			m[k] = Plain(x.vals[i])
		}
		return m
	case filtered:
		return Plain([]any(x))
	case []any:
		for i, e := range x {
			if p := Plain(e); !sameShape(p, e) {
				out := make([]any, len(x))
				copy(out, x[:i])
				for j := i; j < len(x); j++ {
					out[j] = Plain(x[j])
				}
				return out
			}
		}
		return x
	case map[string]any:
		for k, e := range x {
			if p := Plain(e); !sameShape(p, e) {
				out := make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = Plain(e2)
				}
				_ = k
				return out
			}
		}
		return x
	}
	return v
}

// sameShape reports whether Plain left a value as it was (no *Object inside).
func sameShape(a, b any) bool {
	switch b.(type) {
	case *Object, filtered:
		return false
	case []any, map[string]any:
		return sameRef(a, b)
	}
	return true
}

// DecodeJSON decodes JSON text into expression values, keeping the key
// order of objects (*Object). Numbers are float64.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected text after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			// A capacity of one gives even an empty array its own identity,
			// as arrays compare by reference.
			out := make([]any, 0, 1)
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return out, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := parseJSONNumber(string(t))
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return tok, nil // string, bool, nil
}

func parseJSONNumber(s string) (float64, error) {
	f, err := parseNumber(s)
	if err != nil {
		return 0, fmt.Errorf("invalid number %s", s)
	}
	return f, nil
}
