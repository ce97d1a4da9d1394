package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"push", "pull_request", "workflow_dispatch", "schedule"}
	for _, c := range []struct{ in, want string }{
		{"pushh", "push"},
		{"PUSH", "push"},
		{"pull_requst", "pull_request"},
		{"workflow-dispatch", "workflow_dispatch"},
		{"deploy", ""},
		{"", ""},
	} {
		if got := Closest(c.in, known); got != c.want {
			t.Errorf("Closest(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if h := Hint("pushh", known); h != `; did you mean "push"?` {
		t.Errorf("Hint = %q", h)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q,%q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
