package ctl

import "testing"

func TestWithWorkerLabel(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(WithWorkerLabel([]byte(in), "3")); got != want {
			t.Errorf("WithWorkerLabel(%q) = %q; want %q", in, got, want)
		}
	}
	f("go_goroutines 5\n", "go_goroutines{worker=\"3\"} 5\n")
	f("go_gc_duration_seconds{quantile=\"0.5\"} 1e-05\n", "go_gc_duration_seconds{worker=\"3\",quantile=\"0.5\"} 1e-05\n")
	f("x{} 1\n", "x{worker=\"3\"} 1\n")
	f("# HELP x y\n", "# HELP x y\n")
}
