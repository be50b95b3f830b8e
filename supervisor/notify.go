package supervisor

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fluxgate/fluxgate/shared/logging"
)

// Service-manager readiness (systemd's sd_notify protocol, Type=notify),
// implemented here rather than through libsystemd or a Go binding: one
// datagram of newline-separated VAR=value lines to the unix socket named
// by $NOTIFY_SOCKET; a name starting with "@" is in the abstract
// namespace. Without $NOTIFY_SOCKET every call is a no-op.
//
// What the supervisor reports, and when (all from the owner loop):
//
//	first generation ready   READY=1, MAINPID=<own pid>, STATUS=
//	reload starts            RELOADING=1, MONOTONIC_USEC=<CLOCK_MONOTONIC µs>, STATUS=
//	reload ends              READY=1, STATUS= with the outcome (a failed reload
//	                         keeps the old generation serving: still ready)
//	shutdown begins          STOPPING=1, STATUS=
//	upgrade started/failed   STATUS= (a failure also MAINPID=<own pid>, taking
//	                         the main-process role back should the new
//	                         supervisor have claimed it before it died)
//
// After a binary upgrade the new supervisor's first-ready notification
// carries MAINPID=<its pid>: systemd accepts it from a process of the
// unit's cgroup other than the main one only with NotifyAccess=all. It is
// sent before the previous supervisor is told to go, so systemd knows the
// new main process before the old one exits. The old supervisor then
// drains silently: a STOPPING=1 from it would stop the unit.
//
// Workers inherit $NOTIFY_SOCKET (a new supervisor needs it, and the
// environment is shared) but never write to it.

// envNotifySocket names the service manager's notification socket.
const envNotifySocket = "NOTIFY_SOCKET"

// maxStatusBytes bounds a STATUS= text (a config error can be long).
const maxStatusBytes = 512

// sdNotify sends the state lines to the socket named by addr ($NOTIFY_SOCKET);
// an empty addr sends nothing.
func sdNotify(addr string, lines ...string) error {
	if addr == "" {
		return nil
	}
	name := addr
	switch addr[0] {
	case '@':
		name = "\x00" + addr[1:] // abstract namespace
	case '/':
	default:
		return fmt.Errorf("sd_notify: %s=%q: not an absolute or abstract unix socket name", envNotifySocket, addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC=
// wants it (systemd ≥ 253 matches it against the reload request).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// statusLine makes text a single STATUS= line of bounded length.
func statusLine(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > maxStatusBytes {
		text = strings.ToValidUTF8(text[:maxStatusBytes-3], "") + "..."
	}
	return "STATUS=" + text
}

// notify sends lines to the service manager, if any; a failure is logged
// (the loop has no caller to return it to) and otherwise ignored.
func (s *supervisor) notify(lines ...string) {
	if err := sdNotify(s.opts.Getenv(envNotifySocket), lines...); err != nil {
		s.own.Warn("service manager notification", logging.Err(err))
	}
}

// serving describes the live generation for STATUS=.
func (s *supervisor) serving() string {
	if s.live == nil {
		return "starting"
	}
	g := s.live
	return fmt.Sprintf("serving on %s: generation %d, %d/%d workers", s.socks.bound[g.addr], g.n, s.readyCount(g), g.size)
}

// notifyLive runs when a generation has become live: the first one (at
// start, or in a new supervisor after an upgrade) or a reload's.
func (s *supervisor) notifyLive(first bool) {
	if first {
		s.notify("READY=1", "MAINPID="+strconv.Itoa(os.Getpid()), statusLine(s.serving()))
		return
	}
	s.notify("READY=1", statusLine(s.serving()+"; last reload ok"))
}

// notifyReloading runs when a reload starts reading a changed config.
func (s *supervisor) notifyReloading(reason string) {
	s.notify("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10),
		statusLine("reloading ("+reason+"); "+s.serving()))
}

// notifyReloadFailed runs when a reload ended without a new generation:
// the old one still serves, so the service is ready again.
func (s *supervisor) notifyReloadFailed(result string, err error) {
	s.notify("READY=1", statusLine(s.serving()+"; last reload "+result+": "+err.Error()))
}

// notifyStopping runs when a graceful shutdown begins.
func (s *supervisor) notifyStopping(reason string) {
	s.notify("STOPPING=1", statusLine("shutting down ("+reason+")"))
}

// notifyUpgrade reports a binary upgrade's start (err nil) or failure.
func (s *supervisor) notifyUpgrade(newPID int, err error) {
	if err == nil {
		s.notify(statusLine(fmt.Sprintf("upgrading: new supervisor pid %d; %s", newPID, s.serving())))
		return
	}
	s.notify("MAINPID="+strconv.Itoa(os.Getpid()), statusLine(s.serving()+"; upgrade failed: "+err.Error()))
}
