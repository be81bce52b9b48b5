package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"liveness_check", "health_check", "port", "instances", "max_failed"}
	for _, tc := range []struct{ w, want string }{
		{"prot", ""}, // a swap is 2 edits: too far for 4 characters
		{"pot", "port"},
		{"port", "port"},
		{"Liveness-Check", "liveness_check"}, // case and separators ignored
		{"helth_check", "health_check"},      // 1 edit at 10+ characters
		{"instancse", "instances"},           // 2 edits at 9 characters
		{"maxfailed", "max_failed"},
		{"xyz", ""},
		{string(make([]byte, 100)), ""}, // too long to compare
	} {
		if got := Closest(tc.w, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.w, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"abc", "abc", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
