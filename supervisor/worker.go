package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fluxgate/fluxgate/shared/ctl"
	"github.com/fluxgate/fluxgate/shared/logging"
)

// spawn starts the worker for slot of g. It must run on the owner loop's
// goroutine (its OS thread is the workers' Pdeathsig parent).
func (s *supervisor) spawn(g *generation, slot int) error {
	c, theirs, err := socketPair("ctl")
	if err != nil {
		return fmt.Errorf("worker %d: %w", slot, err)
	}
	defer theirs.Close() // the child has its copy once started
	socks := s.socks.forSlot(g.addr, slot, g.size)
	cmd := &exec.Cmd{
		Path:       s.wexe,
		Args:       []string{os.Args[0], "worker"},
		Env:        workerEnv(g, slot, len(socks), s.limiter != nil),
		Stdout:     s.opts.Stdout,
		Stderr:     s.opts.Stderr,
		ExtraFiles: append([]*os.File{theirs, s.limiter}, socks...), // see ctl's fd layout
		// SIGTERM makes an orphaned worker drain (it also drains on ctl EOF).
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM},
	}
	if err := cmd.Start(); err != nil {
		c.Close()
		return fmt.Errorf("worker %d: start: %w", slot, err)
	}
	p := &proc{gen: g, slot: slot, pid: cmd.Process.Pid, process: cmd.Process, c: c, out: make(chan ctl.Msg, outQueue), started: time.Now()}
	g.workers[slot] = p
	s.procs[p] = struct{}{}
	s.log.Info("worker started", logging.KeyGen, g.n, logging.KeyWorker, slot, logging.KeyPID, p.pid)

	// Sender: the only writer of p.c, so messages arrive in the order the
	// loop queued them; ends when onExit closes p.out.
	hello := ctl.Msg{Kind: ctl.KindConfig, Config: g.data, Path: s.opts.ConfigPath}
	s.wg.Go(func() {
		ok := p.c.Send(hello) == nil
		for m := range p.out {
			if ok {
				ok = p.c.Send(m) == nil
			}
		}
	})
	// Reader: ends when the channel closes (the worker exits, or onExit /
	// closeAll closes our end).
	readDone := make(chan struct{})
	s.wg.Go(func() {
		defer close(readDone)
		for {
			m, err := p.c.Recv()
			if err != nil {
				return
			}
			s.post(evMsg{p, m})
		}
	})
	// Waiter: ends when the worker exits (it is always killed eventually).
	// It lets the reader deliver the worker's last messages (its final
	// metrics) first, within readerLinger.
	s.wg.Go(func() {
		err := cmd.Wait()
		select {
		case <-readDone:
		case <-time.After(readerLinger):
		}
		s.post(evExited{p, err})
	})
	return nil
}

// readerLinger bounds how long an exited worker's remaining messages are
// awaited before its exit is handled.
const readerLinger = 2 * time.Second

// outQueue bounds the messages queued for one worker; beyond it status
// pushes are dropped (the worker is stuck; its kill timer handles it).
const outQueue = 32

// send queues m for p without blocking the loop.
func (s *supervisor) send(p *proc, m ctl.Msg) {
	if p.exited {
		return
	}
	select {
	case p.out <- m:
	default:
		s.log.Warn("control queue full, message dropped", logging.KeyGen, p.gen.n, logging.KeyWorker, p.slot,
			logging.KeyPID, p.pid, "kind", string(m.Kind))
	}
}

// isInternalEnv reports whether k is a variable the supervisor sets itself
// for its children; inherited values are dropped.
func isInternalEnv(k string) bool {
	switch k {
	case ctl.EnvWorker, ctl.EnvGen, ctl.EnvSlot, ctl.EnvListeners, ctl.EnvLimiterTable, "GOMAXPROCS",
		envUpgradeFDs, envUpgradeGen:
		return true
	}
	return false
}

// cleanEnv is os.Environ without the internal variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !isInternalEnv(k) {
			env = append(env, kv)
		}
	}
	return env
}

func workerEnv(g *generation, slot, listeners int, table bool) []string {
	procs := max(1, runtime.GOMAXPROCS(0)/g.size)
	env := cleanEnv()
	if table {
		env = append(env, ctl.EnvLimiterTable+"=1")
	}
	return append(env,
		ctl.EnvWorker+"=1",
		ctl.EnvGen+"="+strconv.Itoa(g.n),
		ctl.EnvSlot+"="+strconv.Itoa(slot),
		ctl.EnvListeners+"="+strconv.Itoa(listeners),
		"GOMAXPROCS="+strconv.Itoa(procs),
	)
}
