package supervisor

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var b backoff
	f := func(upFor, want time.Duration) {
		t.Helper()
		if got := b.next(t0, t0.Add(upFor)); got != want {
			t.Errorf("next(up %v) = %v; want %v", upFor, got, want)
		}
	}
	f(0, 100*time.Millisecond)
	f(time.Second, 200*time.Millisecond)
	f(time.Second, 400*time.Millisecond)
	for range 10 {
		b.next(t0, t0)
	}
	f(time.Second, 10*time.Second)
	f(29*time.Second, 10*time.Second)
	f(30*time.Second, 100*time.Millisecond) // stayed up: reset
	f(0, 200*time.Millisecond)
}

func TestDebounce(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	d := debouncer{delay: 200 * time.Millisecond}
	if d.fire(ms(0)) {
		t.Fatal("fire() before any event = true")
	}
	if due := d.touch(ms(0)); !due.Equal(ms(200)) {
		t.Errorf("touch(0) = %v; want +200ms", due)
	}
	d.touch(ms(150)) // burst continues
	f := func(at int, want bool) {
		t.Helper()
		if got := d.fire(ms(at)); got != want {
			t.Errorf("fire(+%dms) = %v; want %v", at, got, want)
		}
	}
	f(200, false) // the first check, superseded by the later event
	f(349, false)
	f(350, true)
	f(400, false) // fires once per burst
	d.touch(ms(1000))
	f(1200, true)
}
