package supervisor

import "time"

// Restart backoff defaults.
const (
	// backoffMin is the first restart delay.
	backoffMin = 100 * time.Millisecond
	// backoffMax caps the delay.
	backoffMax = 10 * time.Second
	// backoffReset: a worker that stayed up this long restarts after
	// backoffMin again.
	backoffReset = 30 * time.Second
)

// backoff computes restart delays for one worker slot: backoffMin doubling
// up to backoffMax, reset after a run of at least backoffReset. Pure: the
// caller passes the times.
type backoff struct {
	cur time.Duration
}

// next returns the delay before restarting a worker that started at started
// and exited at now.
func (b *backoff) next(started, now time.Time) time.Duration {
	if now.Sub(started) >= backoffReset || b.cur == 0 {
		b.cur = backoffMin
		return b.cur
	}
	b.cur = min(2*b.cur, backoffMax)
	return b.cur
}
