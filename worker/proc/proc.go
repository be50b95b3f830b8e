// Package proc is the worker process entry point: it adopts the file
// descriptors the supervisor handed over (see package ctl), builds the data
// plane (worker/server) from the config bytes it receives on the control
// channel, serves, and drains or stops when told to.
//
// Invariants:
//   - This is the only worker package that deals with processes: inherited
//     fds, signals, the control channel. worker/server knows none of it.
//   - A worker never reloads: one config, serve, drain, exit.
//   - A worker outlives its supervisor only for one drain: EOF on the
//     control channel or SIGTERM (the supervisor's Pdeathsig) drains and
//     exits, like a KindDrain message.
//   - While its supervisor lives, a worker ignores SIGTERM: a signal sent to
//     the whole process group or cgroup (systemd's default KillMode) must not
//     bypass the supervisor's shutdown sequence (readyz 503, shutdown delay,
//     then drain). SIGTERM drains only an orphaned worker.
//   - Inherited listening sockets stay non-blocking: they are adopted with
//     net.FileListener (which sets O_NONBLOCK) and never passed to
//     os.File.Fd (golang/go#29277).
//   - SIGINT, SIGHUP and SIGUSR2 are ignored: a terminal's Ctrl-C or hangup
//     reaches the whole process group, and only the supervisor decides.
package proc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/ctl"
	"github.com/fluxgate/fluxgate/shared/logging"
	"github.com/fluxgate/fluxgate/worker/server"
)

// configTimeout bounds the wait for the first control message.
const configTimeout = 30 * time.Second

// stopTimeout bounds Shutdown on KindStop.
const stopTimeout = time.Second

// defaultGrace is the drain grace when neither the message nor the config
// gives one.
const defaultGrace = 30 * time.Second

// IsWorker reports whether this process runs in worker mode.
func IsWorker(getenv func(string) string) bool { return ctl.IsWorker(getenv) }

// Run is the whole life of a worker process. It returns nil after a clean
// drain or stop; errors are for main to print before exiting non-zero.
// stdout receives the access log (one JSON line per request, when the
// config enables it); stderr receives the lifecycle log lines.
func Run(getenv func(string) string, stdout, stderr io.Writer) error {
	gen, _ := strconv.Atoi(getenv(ctl.EnvGen))
	slot, _ := strconv.Atoi(getenv(ctl.EnvSlot))
	n, err := strconv.Atoi(getenv(ctl.EnvListeners))
	if err != nil || n < 1 {
		return fmt.Errorf("worker: %s=%q: %w", ctl.EnvListeners, getenv(ctl.EnvListeners), ErrNoListeners)
	}
	log := logging.New(stderr, logging.Level("", getenv)).With(
		logging.KeyGen, gen, logging.KeyWorker, slot, logging.KeyPID, os.Getpid())
	// Typed exposition (# TYPE lines), so Prometheus knows counters and
	// histograms. The library keeps this switch process-wide; a worker
	// process sets it once, here, before any metric is written.
	metrics.ExposeMetadata(true)

	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR2)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)

	c, err := adoptCtl()
	if err != nil {
		return err
	}
	defer c.Close()
	lns, err := adoptListeners(n)
	if err != nil {
		return err
	}

	w := &worker{gen: gen, slot: slot, c: c, lns: lns, log: log, getenv: getenv, stdout: stdout, stderr: stderr,
		pending: map[uint64]chan ctl.Msg{}, ppid: os.Getppid()}
	if getenv(ctl.EnvLimiterTable) == "1" {
		w.table = os.NewFile(ctl.FDLimiterTable, "limiter-table")
		defer w.table.Close()
	}
	return w.run(term)
}

// worker is the state of one worker process; owned by Run's goroutine.
type worker struct {
	gen, slot int
	c         *ctl.Conn
	lns       []net.Listener
	log       *slog.Logger
	getenv    func(string) string
	stdout    io.Writer
	stderr    io.Writer
	cfg       *config.Config
	srv       *server.Server
	table     *os.File // host rate-limit table, nil = private
	ppid      int      // the supervisor

	// Host metrics: the reader goroutine answers the supervisor's requests
	// (also while run drains) and delivers replies to ScrapeHost callers.
	built   atomic.Pointer[server.Server]
	seq     atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan ctl.Msg // replies awaited, by request id; guarded by mu
}

// recvResult is one message (or the error that ended the channel).
type recvResult struct {
	m   ctl.Msg
	err error
}

func (w *worker) run(term <-chan os.Signal) error {
	start := time.Now()
	// The reader goroutine is owned by run: when run returns, stop and
	// closing c end it, and wg.Wait waits for it.
	msgs := make(chan recvResult, 16)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer w.c.Close()
	defer close(stop)
	first := make(chan recvResult, 1)
	wg.Go(func() {
		out := first
		for {
			m, err := w.c.Recv()
			if err == nil && w.metricsMsg(m) {
				continue
			}
			select {
			case out <- recvResult{m, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
			out = msgs
		}
	})

	var r recvResult
	select {
	case r = <-first:
	case <-time.After(configTimeout):
		return fmt.Errorf("worker: waiting for config: %w", ErrCtlTimeout)
	case <-term:
		return nil
	}
	if r.err != nil {
		return fmt.Errorf("worker: receiving config: %w", r.err)
	}
	if r.m.Kind != ctl.KindConfig {
		return fmt.Errorf("worker: first message %q: %w", r.m.Kind, ErrProtocol)
	}
	if err := w.build(r.m); err != nil {
		_ = w.c.Send(ctl.Msg{Kind: ctl.KindFailed, Err: err.Error()})
		return err
	}
	defer w.srv.Close()

	serveErr := make(chan error, len(w.lns))
	var serving sync.WaitGroup
	for _, ln := range w.lns {
		serving.Go(func() { serveErr <- w.srv.Serve(ln) })
	}
	// Whatever happens next, the Serve goroutines end before run returns:
	// every exit path below drains or shuts the server down first.
	defer serving.Wait()

	if err := w.c.Send(ctl.Msg{Kind: ctl.KindReady}); err != nil {
		w.shutdown()
		return fmt.Errorf("worker: reporting ready: %w", err)
	}
	w.log.Debug("worker serving", logging.Took(time.Since(start)))

	for {
		select {
		case r := <-msgs:
			if r.err != nil {
				// Supervisor gone (EOF) or channel broken: drain and exit.
				w.log.Warn("control channel closed, draining", logging.Err(r.err))
				return w.drain(w.configGrace())
			}
			switch r.m.Kind {
			case ctl.KindStatus:
				if r.m.Status != nil {
					w.srv.SetStatus(*r.m.Status)
				}
			case ctl.KindDrain:
				grace := time.Duration(r.m.GraceMS) * time.Millisecond
				if grace <= 0 {
					grace = w.configGrace()
				}
				return w.drain(grace)
			case ctl.KindStop:
				w.shutdown()
				return nil
			default:
				w.log.Warn("unknown control message", "kind", string(r.m.Kind))
			}
		case <-term:
			if os.Getppid() == w.ppid {
				w.log.Info("SIGTERM ignored: the supervisor runs the shutdown")
				continue
			}
			return w.drain(w.configGrace())
		case err := <-serveErr:
			w.shutdown()
			if err == nil {
				err = ErrServeEnded
			}
			return fmt.Errorf("worker: serve: %w", err)
		}
	}
}

// build parses the config the supervisor validated and builds the server.
func (w *worker) build(m ctl.Msg) error {
	cfg, err := config.Parse(m.Config, m.Path, w.getenv)
	if err != nil {
		return err
	}
	w.cfg = cfg
	w.log = logging.New(w.stderr, logging.Level(cfg.Log.Level, w.getenv)).With(
		logging.KeyGen, w.gen, logging.KeyWorker, w.slot, logging.KeyPID, os.Getpid())
	srv, err := server.New(server.Options{Config: cfg, Logger: w.log, Generation: w.gen, Slot: w.slot,
		ScrapeHost: w.scrapeHost, LimiterTable: w.table, AccessLog: w.stdout, FetchJWKS: w.fetchJWKS})
	if err != nil {
		return err
	}
	w.srv = srv
	w.built.Store(srv)
	return nil
}

// scrapeWait bounds a host scrape through the supervisor.
const scrapeWait = 5 * time.Second

// metricsMsg handles the metrics messages on the reader goroutine and
// reports whether m was one.
func (w *worker) metricsMsg(m ctl.Msg) bool {
	switch m.Kind {
	case ctl.KindMetricsRequest:
		_ = w.c.Send(ctl.Msg{Kind: ctl.KindMetrics, ID: m.ID, Text: w.ownMetrics()})
		return true
	case ctl.KindMetrics, ctl.KindJWKS:
		w.mu.Lock()
		ch := w.pending[m.ID]
		delete(w.pending, m.ID)
		w.mu.Unlock()
		if ch != nil {
			ch <- m // buffered: never blocks
		}
		return true
	}
	return false
}

// request sends m with a fresh id and waits (at most wait, or until ctx
// ends) for the supervisor's reply. Called from request goroutines and
// from build, never from the reader goroutine that delivers replies.
func (w *worker) request(ctx context.Context, m ctl.Msg, wait time.Duration) (ctl.Msg, error) {
	m.ID = w.seq.Add(1)
	ch := make(chan ctl.Msg, 1)
	w.mu.Lock()
	w.pending[m.ID] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.pending, m.ID)
		w.mu.Unlock()
	}()
	if err := w.c.Send(m); err != nil {
		return ctl.Msg{}, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-t.C:
		return ctl.Msg{}, fmt.Errorf("worker: %s: %w", m.Kind, ErrReplyTimeout)
	case <-ctx.Done():
		return ctl.Msg{}, ctx.Err()
	}
}

// fetchJWKS is server.Options.FetchJWKS: key set documents come from the
// supervisor's host-wide cache.
func (w *worker) fetchJWKS(ctx context.Context, url string, force bool) ([]byte, time.Duration, error) {
	r, err := w.request(ctx, ctl.Msg{Kind: ctl.KindJWKSRequest, URL: url, Force: force}, jwksWait)
	if err != nil {
		return nil, 0, err
	}
	if r.Err != "" {
		return nil, 0, fmt.Errorf("supervisor: %s", r.Err)
	}
	return []byte(r.Text), time.Duration(r.MaxAgeMS) * time.Millisecond, nil
}

// jwksWait bounds a key-set fetch through the supervisor (which itself
// bounds its fetch from the identity provider).
const jwksWait = 10 * time.Second

// ownMetrics is this worker's host series plus its per-process series.
func (w *worker) ownMetrics() string {
	var b bytes.Buffer
	if srv := w.built.Load(); srv != nil {
		srv.WriteMetrics(&b)
	}
	b.Write(ctl.ProcessMetrics(strconv.Itoa(w.slot)))
	return b.String()
}

// scrapeHost is server.Options.ScrapeHost: the supervisor's sum over all
// workers. Called from request goroutines.
func (w *worker) scrapeHost(out io.Writer) error {
	r, err := w.request(context.Background(), ctl.Msg{Kind: ctl.KindMetricsRequest}, scrapeWait)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, r.Text)
	return err
}

// sendFinalMetrics gives the supervisor this worker's last counters, which
// it keeps in the host totals after the worker is gone.
func (w *worker) sendFinalMetrics() {
	_ = w.c.Send(ctl.Msg{Kind: ctl.KindMetrics, Text: w.ownMetrics()})
}

func (w *worker) configGrace() time.Duration {
	if w.cfg != nil && w.cfg.Server.ShutdownGracePeriodSecs > 0 {
		return time.Duration(w.cfg.Server.ShutdownGracePeriodSecs) * time.Second
	}
	return defaultGrace
}

// drain runs the data plane's drain protocol within grace. Its outcome is
// logged, not returned: the worker exits either way, and the supervisor
// expects that exit.
func (w *worker) drain(grace time.Duration) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := w.srv.Drain(ctx); err != nil {
		w.log.Warn("worker drained", logging.Took(time.Since(start)), logging.Err(err))
	} else {
		w.log.Info("worker drained", logging.Took(time.Since(start)))
	}
	w.sendFinalMetrics()
	return nil
}

// shutdown stops at once.
func (w *worker) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_ = w.srv.Shutdown(ctx)
	w.sendFinalMetrics()
}

// adoptCtl turns the inherited control fd into a Conn.
func adoptCtl() (*ctl.Conn, error) {
	f := os.NewFile(ctl.FDCtl, "ctl")
	if f == nil {
		return nil, fmt.Errorf("worker: fd %d: %w", ctl.FDCtl, ErrNoCtl)
	}
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("worker: control fd %d: %w", ctl.FDCtl, err)
	}
	return ctl.NewConn(conn), nil
}

// adoptListeners turns the n inherited socket fds into listeners. Each
// listener holds a duplicate fd; the inherited fd is closed.
func adoptListeners(n int) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, n)
	for i := range n {
		fd := ctl.FDFirstListener + i
		f := os.NewFile(uintptr(fd), "listener"+strconv.Itoa(i))
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("worker: listener fd %d: %w", fd, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}
