package fields

import "testing"

func TestFirst(t *testing.T) {
	if got := Field("a, b, c", 0); got != "a" {
		t.Errorf("Field(0) = %q, want a", got)
	}
}

func TestMissingField(t *testing.T) {
	rows := []string{"a,b,c", "d,e"}
	for _, r := range rows {
		if Field(r, 2) == "" {
			t.Errorf("empty third field in %q", r)
		}
	}
}

func TestLast(t *testing.T) {
	if got := Field("a,b,c", 2); got != "c" {
		t.Errorf("Field(2) = %q, want c", got)
	}
}
