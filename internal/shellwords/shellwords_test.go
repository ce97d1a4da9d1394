package shellwords

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`a b  c`, []string{"a", "b", "c"}},
		{`--health-cmd "pg_isready -U x" --x=1`, []string{"--health-cmd", "pg_isready -U x", "--x=1"}},
		{`-c 'echo "hi there"'`, []string{"-c", `echo "hi there"`}},
		{`a\ b ""`, []string{"a b", ""}},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := Split(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := Split(`"open`); err == nil {
		t.Error("unclosed quote accepted")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(`a "b c" 'd'`)
	f.Fuzz(func(t *testing.T, s string) { _, _ = Split(s) })
}
