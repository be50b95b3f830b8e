package telemetry

import (
	"io"
	"sync"
	"time"
)

// LineWriter buffers whole log lines and writes them to an io.Writer in
// batches, so an access-log line costs a memcpy, not a syscall. Lines are
// flushed when the buffer fills and at least every flush interval; Close
// flushes what is left. Safe for concurrent use.
type LineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	limit int
	stop  chan struct{}
	done  chan struct{}
}

// NewLineWriter starts a LineWriter over w that flushes every interval
// (default 100 ms) or when 64 KiB are buffered.
func NewLineWriter(w io.Writer, interval time.Duration) *LineWriter {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	lw := &LineWriter{w: w, buf: make([]byte, 0, 64<<10), limit: 64 << 10,
		stop: make(chan struct{}), done: make(chan struct{})}
	go lw.loop(interval)
	return lw
}

// WriteLine appends one line (which must end in '\n').
func (lw *LineWriter) WriteLine(line []byte) {
	lw.mu.Lock()
	lw.buf = append(lw.buf, line...)
	if len(lw.buf) >= lw.limit {
		lw.flushLocked()
	}
	lw.mu.Unlock()
}

func (lw *LineWriter) flushLocked() {
	if len(lw.buf) > 0 {
		_, _ = lw.w.Write(lw.buf)
		lw.buf = lw.buf[:0]
	}
}

func (lw *LineWriter) loop(interval time.Duration) {
	defer close(lw.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			lw.mu.Lock()
			lw.flushLocked()
			lw.mu.Unlock()
		case <-lw.stop:
			lw.mu.Lock()
			lw.flushLocked()
			lw.mu.Unlock()
			return
		}
	}
}

// Close flushes and stops the flush loop.
func (lw *LineWriter) Close() {
	close(lw.stop)
	<-lw.done
}
