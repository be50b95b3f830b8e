package server

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Connection states as tracked for draining.
const (
	connIdle   = iota // waiting for the first byte of a request
	connActive        // a request is being read or served
)

// connSet tracks the listeners and connections of a Server so Drain can stop
// accepting and close idle keep-alive connections. Registration happens once
// per connection (accept and close); per-request state changes are atomic
// stores on the connection itself.
type connSet struct {
	mu    sync.Mutex
	lns   []net.Listener
	conns map[*trackedConn]struct{}
}

func (cs *connSet) init() { cs.conns = make(map[*trackedConn]struct{}) }

func (cs *connSet) wrap(ln net.Listener, linger time.Duration) net.Listener {
	cs.mu.Lock()
	cs.lns = append(cs.lns, ln)
	cs.mu.Unlock()
	return &trackingListener{Listener: ln, set: cs, linger: linger}
}

func (cs *connSet) add(c *trackedConn) {
	cs.mu.Lock()
	cs.conns[c] = struct{}{}
	cs.mu.Unlock()
}

func (cs *connSet) remove(c *trackedConn) {
	cs.mu.Lock()
	delete(cs.conns, c)
	cs.mu.Unlock()
}

// setState is fasthttp's ConnState callback; it runs on the connection's
// own goroutine.
func (cs *connSet) setState(c net.Conn, st fasthttp.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	switch st {
	case fasthttp.StateActive:
		tc.state.Store(connActive)
	case fasthttp.StateIdle:
		tc.idleSince.Store(time.Now().UnixNano())
		tc.state.Store(connIdle)
	}
}

// closeListeners closes this process's listeners; Serve then returns.
func (cs *connSet) closeListeners() {
	cs.mu.Lock()
	lns := cs.lns
	cs.lns = nil
	cs.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// sweepIdle wakes every connection idle for at least grace, so that fasthttp
// closes it, and reports how many connections are still open.
func (cs *connSet) sweepIdle(now time.Time, grace time.Duration) int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		if c.state.Load() == connIdle && now.UnixNano()-c.idleSince.Load() >= int64(grace) {
			// A read deadline in the past ends fasthttp's wait for the next
			// request; fasthttp then closes the connection itself.
			_ = c.Conn.SetReadDeadline(now)
		}
	}
	return len(cs.conns)
}

// closeAll closes every connection at once (deadline reached).
func (cs *connSet) closeAll() {
	cs.mu.Lock()
	conns := make([]*trackedConn, 0, len(cs.conns))
	for c := range cs.conns {
		conns = append(conns, c)
	}
	cs.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
}

type trackingListener struct {
	net.Listener
	set    *connSet
	linger time.Duration
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, set: l.set, linger: l.linger}
	tc.idleSince.Store(time.Now().UnixNano())
	l.set.add(tc)
	return tc, nil
}

// trackedConn is an accepted connection with its drain state.
type trackedConn struct {
	net.Conn
	set       *connSet
	linger    time.Duration
	state     atomic.Int32
	idleSince atomic.Int64 // unix nanoseconds
	closed    atomic.Bool
}

// Close is a lingering close: half-close our side, read (and discard) what
// the client still sends for a short while, then close. Closing at once with
// unread data would make the kernel send an RST that can destroy the last
// response before the client reads it (RFC 9112 §9.6).
func (c *trackedConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.set.remove(c)
	if tcp, ok := c.Conn.(*net.TCPConn); ok && c.linger > 0 {
		if tcp.CloseWrite() == nil {
			_ = tcp.SetReadDeadline(time.Now().Add(c.linger))
			_, _ = io.Copy(io.Discard, io.LimitReader(tcp, 256<<10))
		}
	}
	return c.Conn.Close()
}

// abort closes at once, without lingering.
func (c *trackedConn) abort() {
	if c.closed.CompareAndSwap(false, true) {
		c.set.remove(c)
		_ = c.Conn.Close()
	}
}
