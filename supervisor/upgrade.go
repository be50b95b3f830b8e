package supervisor

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fluxgate/fluxgate/shared/ctl"
	"github.com/fluxgate/fluxgate/shared/logging"
)

// Environment of a new supervisor started by a binary upgrade.
const (
	// envUpgradeFDs lists the inherited fds by name: "ready=3,ln:0:ADDR=4,...".
	// "ready" is the write end of a pipe: the new supervisor writes one byte
	// when its first generation is ready. "ln:I:ADDR" is listening socket I
	// of the configured listen address ADDR. "shm:limiter" is the host
	// rate-limit table, so limits survive the upgrade.
	envUpgradeFDs = "FLUXGATE_UPGRADE_FDS"
	// limiterFD names the host rate-limit table in envUpgradeFDs.
	limiterFD = "shm:limiter"
	// metricsFD names a unix socket on which the previous supervisor sends
	// its counter totals (KindMetrics), so host counters never go backwards.
	metricsFD = "ctl:metrics"
	// envUpgradeGen is the first generation number the new supervisor uses.
	envUpgradeGen = "FLUXGATE_UPGRADE_GEN"
	// upgradeExtra is added to the ready timeout for the new supervisor's
	// own start (config load, socket adoption).
	upgradeExtra = 10 * time.Second
)

// upgrade is a binary upgrade in progress.
type upgrade struct {
	cmd     *exec.Cmd
	started time.Time
	metrics *ctl.Conn // to the new supervisor: our counter totals
}

// beginUpgrade starts the binary found at the original executable path as a
// new supervisor that inherits the sockets (tableflip-style).
func (s *supervisor) beginUpgrade() {
	if s.stopping || s.live == nil {
		s.own.Warn("upgrade ignored: not serving")
		return
	}
	if s.upgrading != nil || s.pending != nil {
		s.own.Warn("upgrade ignored", logging.Err(ErrUpgradeInProgress))
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		s.own.Error("upgrade", logging.Err(err))
		return
	}
	defer w.Close() // the child has its copy once started
	names, files := s.socks.named()
	names = append([]string{"ready"}, names...)
	files = append([]*os.File{w}, files...)
	if s.limiter != nil {
		names = append(names, limiterFD)
		files = append(files, s.limiter)
	}
	mc, theirs, err := socketPair("metrics")
	if err != nil {
		r.Close()
		s.own.Error("upgrade", logging.Err(err))
		return
	}
	defer theirs.Close()
	names = append(names, metricsFD)
	files = append(files, theirs)
	spec := make([]string, len(names))
	for i, n := range names {
		spec[i] = n + "=" + strconv.Itoa(3+i)
	}
	cmd := &exec.Cmd{
		Path: s.exe,
		Args: append([]string{os.Args[0]}, s.opts.Args...),
		Env: append(cleanEnv(),
			envUpgradeFDs+"="+strings.Join(spec, ","),
			envUpgradeGen+"="+strconv.Itoa(s.nextGen)),
		Stdout:     s.opts.Stdout,
		Stderr:     s.opts.Stderr,
		ExtraFiles: files,
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		mc.Close()
		s.own.Error("upgrade", logging.Err(fmt.Errorf("start %s: %w", s.exe, err)))
		return
	}
	u := &upgrade{cmd: cmd, started: time.Now(), metrics: mc}
	s.upgrading = u
	s.own.Info("upgrade started", "new_pid", cmd.Process.Pid, "exe", s.exe)
	s.notifyUpgrade(cmd.Process.Pid, nil)
	timeout := readyTimeout(s.live.cfg) + upgradeExtra
	// Pipe reader: ends at the byte, EOF (the new supervisor died) or the
	// deadline.
	s.wg.Go(func() {
		defer r.Close()
		_ = r.SetReadDeadline(time.Now().Add(timeout))
		var b [1]byte
		n, err := r.Read(b[:])
		if n == 1 {
			err = nil
		} else if err == nil {
			err = ErrUpgradeFailed
		}
		if err != nil {
			err = fmt.Errorf("new supervisor pid %d: %v: %w", cmd.Process.Pid, err, ErrUpgradeFailed)
		}
		s.post(evUpgrade{u, err})
	})
}

func (s *supervisor) onUpgrade(u *upgrade, err error) {
	if u != s.upgrading {
		return
	}
	s.upgrading = nil
	if err != nil {
		s.own.Error("upgrade", "result", "failed", logging.Err(err))
		s.notifyUpgrade(u.cmd.Process.Pid, err)
		u.metrics.Close()
		s.killUpgrade(u)
		s.runQueued()
		return
	}
	// Counters must not go backwards across the upgrade: the new supervisor
	// gets our totals now (as of the last scrape) and finally when our
	// workers have drained (see handOffMetrics).
	s.handoff = make(chan ctl.Msg, 2)
	s.handoff <- ctl.Msg{Kind: ctl.KindMetrics, Text: s.monotonicTotals()}
	out, c := s.handoff, u.metrics
	s.wg.Go(func() {
		defer c.Close()
		for m := range out {
			_ = c.Send(m)
		}
	})
	s.own.Info("upgrade", "result", "ok", "new_pid", u.cmd.Process.Pid, logging.Took(time.Since(u.started)))
	_ = u.cmd.Process.Release() // the new supervisor outlives us
	s.handedOff = true
	s.stopping = true
	s.drainAll()
}

// abortUpgrade kills an upgrade in progress (shutdown meanwhile).
func (s *supervisor) abortUpgrade() {
	if u := s.upgrading; u != nil {
		s.upgrading = nil
		u.metrics.Close()
		s.killUpgrade(u)
	}
}

func (s *supervisor) killUpgrade(u *upgrade) {
	_ = u.cmd.Process.Signal(syscall.SIGKILL)
	s.wg.Go(func() { _ = u.cmd.Wait() }) // reaps at once: SIGKILL
}

// adoptInherited takes over the fds of a previous supervisor (binary
// upgrade); without envUpgradeFDs it does nothing.
func (s *supervisor) adoptInherited() error {
	spec := s.opts.Getenv(envUpgradeFDs)
	if spec == "" {
		return nil
	}
	if g, err := strconv.Atoi(s.opts.Getenv(envUpgradeGen)); err == nil && g > 0 {
		s.nextGen = g
	}
	for kv := range strings.SplitSeq(spec, ",") {
		name, fdText, ok := strings.Cut(kv, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return fmt.Errorf("%s entry %q: %w", envUpgradeFDs, kv, ErrBadInheritedFDs)
		}
		// Keep inherited fds out of our own children.
		unix.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), name)
		switch name {
		case "ready":
			s.upgradeReady = f
			continue
		case limiterFD:
			s.limiter = f
			continue
		case metricsFD:
			conn, err := net.FileConn(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("inherited %s: %w", name, err)
			}
			s.prevConn = ctl.NewConn(conn)
			continue
		}
		if err := s.socks.adopt(name, f); err != nil {
			return err
		}
	}
	return nil
}

// handOffMetrics sends the final totals to the new supervisor once every
// worker of ours has exited.
func (s *supervisor) handOffMetrics() {
	if s.handoff == nil {
		return
	}
	s.handoff <- ctl.Msg{Kind: ctl.KindMetrics, Text: s.monotonicTotals()}
	close(s.handoff)
	s.handoff = nil
}

// readPrevMetrics receives the previous supervisor's totals until it
// closes the socket (or closeAll closes ours).
func (s *supervisor) readPrevMetrics() {
	if s.prevConn == nil {
		return
	}
	c := s.prevConn
	s.wg.Go(func() {
		for {
			m, err := c.Recv()
			if err != nil {
				return
			}
			if m.Kind == ctl.KindMetrics {
				s.post(evPrevMetrics{m.Text})
			}
		}
	})
}

// socketPair returns our end of a unix stream socketpair as a Conn and the
// other end as a file for a child.
func socketPair(name string) (*ctl.Conn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: socketpair: %w", name, err)
	}
	mine := os.NewFile(uintptr(fds[0]), name)
	theirs := os.NewFile(uintptr(fds[1]), name+"-child")
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		theirs.Close()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return ctl.NewConn(conn), theirs, nil
}
