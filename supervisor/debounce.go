package supervisor

import "time"

// debounceDelay is how long the config file must stay quiet before a
// change is acted upon (editors write in several steps).
const debounceDelay = 200 * time.Millisecond

// debouncer turns a burst of events into one action, delay after the last
// event. Pure: the caller passes the times and schedules the checks.
type debouncer struct {
	delay time.Duration
	due   time.Time
	armed bool
}

// touch records an event at now and returns when to check again.
func (d *debouncer) touch(now time.Time) time.Time {
	d.due = now.Add(d.delay)
	d.armed = true
	return d.due
}

// fire reports whether the quiet period has passed at now; it disarms, so
// one burst fires once.
func (d *debouncer) fire(now time.Time) bool {
	if !d.armed || now.Before(d.due) {
		return false
	}
	d.armed = false
	return true
}
