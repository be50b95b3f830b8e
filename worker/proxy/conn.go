package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Pool and connection tuning.
const (
	// maxIdle is how long a pooled connection may sit idle before it is
	// closed instead of reused.
	maxIdle = 60 * time.Second
	// connBufSize is the size of each connection's read and write buffer;
	// it also bounds the size of upstream response headers.
	connBufSize = 16 << 10
	// maxDeadlineSlack bounds how late a silence is noticed: deadlines are
	// re-armed at most once per slack, so the tolerated silence lies between
	// timeout and timeout+slack.
	maxDeadlineSlack = 100 * time.Millisecond
)

// conn is one upstream connection. It arms its own deadlines: in the header
// phase one fixed read deadline (timeout after the request was sent); in
// the body phase every Read and Write pushes the deadline forward, so only
// silence is bounded. A conn is used by one goroutine at a time.
type conn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer

	timeout time.Duration // 0 = no deadlines
	slack   time.Duration

	headerPhase bool
	readArmed   time.Time // when the read deadline was last pushed
	writeArmed  time.Time // when the write deadline was last pushed
	idleSince   time.Time

	// raw, when non-nil, lets alive peek at the socket; peek is
	// raw.Control's callback, bound once so that a check does not allocate.
	raw       syscall.RawConn
	peek      func(fd uintptr)
	peekAlive bool
}

func newConn(nc net.Conn, timeout time.Duration) *conn {
	c := &conn{Conn: nc, timeout: timeout, slack: min(timeout/10, maxDeadlineSlack)}
	c.br = bufio.NewReaderSize(c, connBufSize)
	c.bw = bufio.NewWriterSize(c, connBufSize)
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.peek = c.peekFD
		}
	}
	return c
}

// Read reads from the connection; outside the header phase it first pushes
// the read deadline forward.
func (c *conn) Read(p []byte) (int, error) {
	if c.timeout > 0 && !c.headerPhase {
		if now := time.Now(); now.Sub(c.readArmed) >= c.slack {
			if err := c.Conn.SetReadDeadline(now.Add(c.timeout + c.slack)); err != nil {
				return 0, err
			}
			c.readArmed = now
		}
	}
	return c.Conn.Read(p)
}

// Write writes to the connection after pushing the write deadline forward.
func (c *conn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		if now := time.Now(); now.Sub(c.writeArmed) >= c.slack {
			if err := c.Conn.SetWriteDeadline(now.Add(c.timeout + c.slack)); err != nil {
				return 0, err
			}
			c.writeArmed = now
		}
	}
	return c.Conn.Write(p)
}

// awaitHeaders starts the header phase: the response headers must be
// complete within timeout from now.
func (c *conn) awaitHeaders() error {
	if c.timeout <= 0 {
		return nil
	}
	c.headerPhase = true
	return c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
}

// streamBody ends the header phase: from now on only silence is bounded.
func (c *conn) streamBody() {
	c.headerPhase = false
	c.readArmed = time.Time{}
}

// alive reports whether an idle connection still looks usable: the upstream
// has neither closed it nor sent anything unsolicited. Connections without
// a file descriptor (in-memory pipes) are assumed alive.
func (c *conn) alive() bool {
	if c.raw == nil {
		return true
	}
	c.peekAlive = false
	// Control, unlike Read, ignores the (long expired) read deadline.
	if err := c.raw.Control(c.peek); err != nil {
		return false
	}
	return c.peekAlive
}

// pool holds the idle connections to one address and bounds the number of
// open ones.
type pool struct {
	addr           string
	dialer         net.Dialer
	connectTimeout time.Duration
	timeout        time.Duration

	// dial, when set, replaces dialer.Dial (tests dial in-memory pipes).
	dial func() (net.Conn, error)

	// slots holds one token per open connection (idle or in use).
	slots chan struct{}
	// idle holds the idle connections, oldest first. Its capacity is that
	// of slots, so put never blocks; a goroutine waiting for a slot also
	// waits on it, so a released connection reaches a waiter at once.
	idle   chan *conn
	closed atomic.Bool
}

func newPool(addr string, connectTimeout, timeout time.Duration, maxConns int) pool {
	return pool{
		addr:           addr,
		dialer:         net.Dialer{Timeout: connectTimeout},
		connectTimeout: connectTimeout,
		timeout:        timeout,
		slots:          make(chan struct{}, maxConns),
		idle:           make(chan *conn, maxConns),
	}
}

var errPoolExhausted = errors.New("all connections busy")

// get returns an idle connection that is still alive, or a new one. Dead
// idle connections are closed on the way: they cost no try. With
// trustRecent, a connection released less than peekAfter ago is returned
// without the liveness syscall, and unverified says so: the caller must
// resend on a fresh connection, at no cost, if it turns out closed before
// any response byte. Errors are dial errors (or errPoolExhausted when no
// connection frees up within the connect timeout).
func (p *pool) get(trustRecent bool) (c *conn, unverified bool, err error) {
	for {
		// An idle connection first; a select with both cases ready would
		// pick one at random.
		select {
		case c := <-p.idle:
			if ok, unverified := p.usable(c, trustRecent); ok {
				return c, unverified, nil
			}
			continue
		default:
		}
		select {
		case p.slots <- struct{}{}:
		default:
			t := time.NewTimer(p.connectTimeout)
			select {
			case c := <-p.idle:
				t.Stop()
				if ok, unverified := p.usable(c, trustRecent); ok {
					return c, unverified, nil
				}
				continue
			case p.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				return nil, false, errPoolExhausted
			}
		}
		break
	}
	var nc net.Conn
	if p.dial != nil {
		nc, err = p.dial()
	} else {
		nc, err = p.dialer.Dial("tcp", p.addr)
	}
	if err != nil {
		<-p.slots
		return nil, false, err
	}
	return newConn(nc, p.timeout), false, nil
}

// peekAfter is how long a connection must have been idle before a
// trusting caller (an idempotent request with a replayable body) has usable
// check with a syscall that the upstream has not closed it. A connection
// released moments ago, the common case under load, almost never is:
// upstream keep-alive timeouts are seconds long, and one that answered with
// Connection: close was never pooled. When it was, the caller sees the
// failure before any response byte and resends for free.
const peekAfter = time.Second

// usable reports whether the idle connection c may carry a request (and
// discards it if not), and whether that was assumed without a check.
func (p *pool) usable(c *conn, trustRecent bool) (ok, unverified bool) {
	idle := time.Since(c.idleSince)
	if trustRecent && idle < peekAfter {
		return true, true
	}
	if idle < maxIdle && c.alive() {
		return true, false
	}
	p.discard(c)
	return false, false
}

// put returns a healthy connection whose last exchange is complete.
func (p *pool) put(c *conn) {
	c.idleSince = time.Now()
	p.idle <- c
	if p.closed.Load() {
		p.drain()
	}
}

// discard closes c and frees its slot.
func (p *pool) discard(c *conn) {
	c.Close()
	<-p.slots
}

// close closes the idle connections; connections in use are closed when
// they are released.
func (p *pool) close() {
	p.closed.Store(true)
	p.drain()
}

func (p *pool) drain() {
	for {
		select {
		case c := <-p.idle:
			p.discard(c)
		default:
			return
		}
	}
}

// idleCount reports how many connections are idle (for tests).
func (p *pool) idleCount() int { return len(p.idle) }

func dialError(addr string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrConnect, addr, err)
}
