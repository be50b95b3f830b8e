package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/buildinfo"
	"github.com/fluxgate/fluxgate/shared/ctl"
	"github.com/fluxgate/fluxgate/shared/logging"
	"github.com/fluxgate/fluxgate/shared/shm"
)

// Defaults used when the config leaves a setting at zero.
const (
	defaultListenAddr = "0.0.0.0:8080"
	// limiterName labels the host rate-limit memfd (/proc/PID/fd shows it).
	limiterName = "fluxgate-limiter"
	// selfExe names the running binary on Linux, even once replaced on disk.
	selfExe             = "/proc/self/exe"
	defaultReadyTimeout = 10 * time.Second
	defaultGrace        = 30 * time.Second
	// killMargin is added to the drain grace before a worker is killed, so
	// the worker's own deadline fires first.
	killMargin = 2 * time.Second
	// stopKillTimeout bounds a worker's exit after KindStop.
	stopKillTimeout = 3 * time.Second
)

// Options configure Run. ConfigPath is required.
type Options struct {
	// ConfigPath is the config file; it is re-read on every reload.
	ConfigPath string
	// Workers, when > 0, wins over server.workers (the --workers flag).
	Workers int
	// Args are the supervisor's command-line arguments (without argv[0]);
	// a binary upgrade starts the new supervisor with them.
	Args []string
	// Getenv reads the environment. Default os.Getenv.
	Getenv func(string) string
	// Stderr receives the JSON logs of the supervisor and, inherited, of
	// its workers. Default os.Stderr.
	Stderr *os.File
	// Stdout is inherited by the workers for their access logs. Default
	// os.Stdout.
	Stdout *os.File
	// Signals, when set, replaces signal.Notify for tests: the supervisor
	// reads SIGHUP, SIGUSR2, SIGTERM and SIGINT from it.
	Signals <-chan os.Signal
}

// stats counts reload outcomes and restarts (exposed by supervisorMetrics).
type stats struct {
	// Reloads by result: "ok", "invalid_config", "failed_generation".
	Reloads map[string]int
	// Restarts counts workers restarted after an unexpected exit.
	Restarts int
}

// Run is the supervisor's whole life: it loads the config, opens (or, after
// a binary upgrade, inherits) the sockets, starts the first generation and
// handles signals, config changes and worker exits until a shutdown
// completes. It returns nil after a graceful shutdown or a handed-over
// upgrade; a config error (every line of it) or a first generation that
// cannot start is returned. Cancelling ctx is a graceful shutdown.
func Run(ctx context.Context, opts Options) error {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	start := time.Now()
	exe, err := originalPath()
	if err != nil {
		return fmt.Errorf("supervisor: own executable: %w", err)
	}
	// Workers run the supervisor's own binary even after the file at exe
	// has been replaced (a pending upgrade): /proc/self/exe names the
	// running image. Only SIGUSR2 starts the binary found at exe.
	workerExe := exe
	if _, err := os.Stat(selfExe); err == nil {
		workerExe = selfExe
	}
	data, cfg, err := loadConfig(opts.ConfigPath, opts.Getenv)
	if err != nil {
		return err
	}
	log := logging.New(opts.Stderr, logging.Level(cfg.Log.Level, opts.Getenv))

	s := &supervisor{
		opts:    opts,
		log:     log,
		own:     log.With(logging.KeyPID, os.Getpid()),
		jwks:    newJWKSCache(),
		exposed: map[string]float64{},
		exe:     exe,
		wexe:    workerExe,
		start:   start,
		socks:   newSocketSet(),
		events:  make(chan event, 64),
		done:    make(chan struct{}),
		procs:   map[*proc]struct{}{},
		stats:   stats{Reloads: map[string]int{}},
		status:  ctl.Status{Ready: true, LastReload: "none"},
		nextGen: 1,
		watch:   debouncer{delay: debounceDelay},
		retired: newSum(),
	}
	if err := s.adoptInherited(); err != nil {
		return err
	}
	if s.limiter == nil {
		// Without it each worker limits with a private table: degraded, not fatal.
		if s.limiter, err = shm.Create(limiterName, ctl.LimiterTableBytes); err != nil {
			log.Warn("host rate-limit table unavailable", logging.Err(err))
		}
	}
	log.Info("starting", logging.KeyPID, os.Getpid(), "version", buildinfo.Version, "config", opts.ConfigPath,
		"upgrade", s.upgradeReady != nil)

	sigs := opts.Signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGHUP, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		sigs = ch
	}

	// The watcher is owned here: stopped and waited for before Run returns.
	wctx, stopWatch := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	if w, err := newWatcher(opts.ConfigPath); err != nil {
		log.Warn("config file watch disabled", logging.Err(err))
	} else {
		wg.Go(func() { w.run(wctx, s.post) })
	}

	return s.loop(ctx, sigs, data, cfg)
}

// originalPath is the path this binary was started as (symlinks kept, so
// an upgrade that swaps a symlink is honoured), else os.Executable.
func originalPath() (string, error) {
	p := os.Args[0]
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return os.Executable()
		}
		p = lp
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return os.Executable()
	}
	if _, err := os.Stat(abs); err != nil {
		return os.Executable()
	}
	return abs, nil
}

// loadConfig reads and validates the config without binding anything.
func loadConfig(path string, getenv func(string) string) ([]byte, *config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := config.Parse(data, path, getenv)
	if err != nil {
		return nil, nil, err
	}
	return data, cfg, nil
}

// supervisor is the fleet state; every field is owned by the loop goroutine
// unless noted.
type supervisor struct {
	opts Options
	// log is for worker events (their pid in KeyPID); own is for the
	// supervisor's own events (its pid in KeyPID).
	log, own *slog.Logger
	exe      string // the binary path at start: a binary upgrade runs it
	wexe     string // the running binary: workers run it
	start    time.Time
	socks    *socketSet

	events chan event    // posted by helper goroutines
	done   chan struct{} // closed when the loop ends; unblocks posters
	wg     sync.WaitGroup

	nextGen int
	live    *generation
	pending *generation
	procs   map[*proc]struct{} // every started, not yet reaped worker
	timers  []timed

	queued     string // coalesced reload reason while one is pending
	lastData   []byte // config bytes of the last reload attempt
	watch      debouncer
	status     ctl.Status
	stats      stats
	pidWritten bool

	stopping  bool     // graceful shutdown begun
	draining  bool     // shutdown: workers told to drain
	forced    bool     // second signal: kill everything
	upgrading *upgrade // SIGUSR2 in progress
	handedOff bool     // a new supervisor took over
	firstErr  error    // the first generation failed

	upgradeReady *os.File // inherited pipe to the previous supervisor
	limiter      *os.File // host rate-limit table (memfd); nil if unavailable

	handoff  chan ctl.Msg // after an upgrade: our totals to the new supervisor
	jwks     *jwksCache   // key sets shared by all workers; safe for concurrent use
	prevConn *ctl.Conn    // after an upgrade: the previous supervisor's totals
	prev     *sum         // the previous supervisor's latest totals

	scrapeSeq uint64
	scrape    *hostScrape        // the host scrape in progress, if any
	retired   *sum               // monotonic series of exited workers
	exposed   map[string]float64 // last exposed value of each counter-like host series
}

// hostScrape gathers every worker's metrics for the workers that asked.
type hostScrape struct {
	id         uint64
	waiting    map[*proc]bool
	requesters []requester
}

// requester is a worker waiting for the host metrics under its request id.
type requester struct {
	p  *proc
	id uint64
}

// generation is one config's set of workers.
type generation struct {
	n       int
	cfg     *config.Config
	data    []byte
	addr    string // configured listen address
	size    int    // workers in the generation
	workers []*proc
	backoff []backoff
	started time.Time
	reason  string
}

// proc is one worker process.
type proc struct {
	gen      *generation
	slot     int
	pid      int
	process  *os.Process // signals go through it (a pidfd: never a reused pid)
	c        *ctl.Conn
	out      chan ctl.Msg // to the sender goroutine; closed by onExit
	started  time.Time
	ready    bool
	draining bool // told to drain or stop: its exit is expected
	exited   bool
	last     *snapshot // latest metrics snapshot, nil before the first
}

type event any

// Events posted to the loop.
type (
	evExited struct {
		p   *proc
		err error
	}
	evMsg struct {
		p *proc
		m ctl.Msg
	}
	evReadyTimeout struct{ g *generation }
	evRestart      struct {
		g    *generation
		slot int
	}
	evKill       struct{ p *proc }
	evDrainAll   struct{}
	evFileChange struct{}
	evFileCheck  struct{}
	evUpgrade    struct {
		u   *upgrade
		err error
	}
	evScrapeTimeout struct{ id uint64 }
	evPrevMetrics   struct{ text string }
	evJWKS          struct {
		p      *proc
		id     uint64
		doc    []byte
		maxAge time.Duration
		err    error
	}
)

type timed struct {
	at time.Time
	ev event
}

// post hands ev to the loop; it never blocks once the loop has ended.
func (s *supervisor) post(ev event) {
	select {
	case s.events <- ev:
	case <-s.done:
	}
}

// after schedules ev for the loop in d.
func (s *supervisor) after(d time.Duration, ev event) {
	s.timers = append(s.timers, timed{time.Now().Add(d), ev})
}

func (s *supervisor) loop(ctx context.Context, sigs <-chan os.Signal, data []byte, cfg *config.Config) error {
	// Workers' Pdeathsig is tied to the thread that forked them.
	runtime.LockOSThread()
	// Deferred in reverse: kill leftovers, unblock posters, wait for helpers.
	defer s.wg.Wait()
	defer close(s.done)
	defer s.closeAll()

	s.lastData = data
	s.readPrevMetrics()
	if err := s.startGeneration(cfg, data, "start"); err != nil && s.firstErr == nil {
		s.firstErr = err
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ctxDone := ctx.Done()
	for !s.finished() {
		timer.Reset(s.nextTimer())
		select {
		case ev := <-s.events:
			s.handle(ev)
		case sig := <-sigs:
			s.signal(sig)
		case <-ctxDone:
			ctxDone = nil
			s.beginShutdown("context")
		case <-timer.C:
			s.fireTimers()
		}
	}
	if s.firstErr != nil {
		return s.firstErr
	}
	if s.forced {
		return ErrForcedStop
	}
	s.own.Info("stopped", logging.Took(time.Since(s.start)))
	return nil
}

// finished reports whether the loop may end: shutting down and no worker left.
func (s *supervisor) finished() bool {
	return (s.stopping || s.firstErr != nil) && len(s.procs) == 0
}

func (s *supervisor) nextTimer() time.Duration {
	d := time.Hour
	now := time.Now()
	for _, t := range s.timers {
		d = min(d, t.at.Sub(now))
	}
	return max(d, 0)
}

func (s *supervisor) fireTimers() {
	now := time.Now()
	var due []event
	keep := s.timers[:0]
	for _, t := range s.timers {
		if now.Before(t.at) {
			keep = append(keep, t)
		} else {
			due = append(due, t.ev)
		}
	}
	s.timers = keep
	for _, ev := range due {
		s.handle(ev)
	}
}

func (s *supervisor) signal(sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		s.requestReload("SIGHUP")
	case syscall.SIGUSR2:
		s.beginUpgrade()
	case syscall.SIGTERM, syscall.SIGINT:
		if s.stopping && !s.handedOff {
			s.forceStop()
			return
		}
		s.beginShutdown(sig.String())
	}
}

func (s *supervisor) handle(ev event) {
	switch e := ev.(type) {
	case evExited:
		s.onExit(e.p, e.err)
	case evMsg:
		s.onMsg(e.p, e.m)
	case evReadyTimeout:
		if e.g == s.pending {
			s.failGeneration(e.g, fmt.Errorf("generation %d: not ready within %v: %w",
				e.g.n, readyTimeout(e.g.cfg), ErrGenerationFailed))
		}
	case evRestart:
		s.restart(e.g, e.slot)
	case evKill:
		if !e.p.exited {
			s.log.Warn("killing worker", logging.KeyGen, e.p.gen.n, logging.KeyWorker, e.p.slot, logging.KeyPID, e.p.pid)
			_ = e.p.process.Kill()
		}
	case evDrainAll:
		s.drainAll()
	case evFileChange:
		s.after(debounceDelay, evFileCheck{})
		s.watch.touch(time.Now())
	case evFileCheck:
		if s.watch.fire(time.Now()) {
			s.requestReload("file")
		}
	case evUpgrade:
		s.onUpgrade(e.u, e.err)
	case evPrevMetrics:
		s.prev = newSum()
		s.prev.retire(parseText(e.text))
	case evScrapeTimeout:
		if s.scrape != nil && s.scrape.id == e.id {
			s.finishScrape()
		}
	case evJWKS:
		reply := ctl.Msg{Kind: ctl.KindJWKS, ID: e.id, Text: string(e.doc), MaxAgeMS: e.maxAge.Milliseconds()}
		if e.err != nil {
			reply.Err = e.err.Error()
			s.log.Warn("jwks fetch failed", logging.Err(e.err))
		}
		s.send(e.p, reply)
	}
}

// ---- generations ----------------------------------------------------------

func readyTimeout(cfg *config.Config) time.Duration {
	if cfg.Server.ReadyTimeoutSecs > 0 {
		return time.Duration(cfg.Server.ReadyTimeoutSecs) * time.Second
	}
	return defaultReadyTimeout
}

func grace(cfg *config.Config) time.Duration {
	if cfg.Server.ShutdownGracePeriodSecs > 0 {
		return time.Duration(cfg.Server.ShutdownGracePeriodSecs) * time.Second
	}
	return defaultGrace
}

func listenAddr(cfg *config.Config) string {
	if cfg.Server.ListenAddr != "" {
		return cfg.Server.ListenAddr
	}
	return defaultListenAddr
}

func (s *supervisor) workerCount(cfg *config.Config) int {
	switch {
	case s.opts.Workers > 0:
		return s.opts.Workers
	case cfg.Server.Workers > 0:
		return cfg.Server.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// startGeneration opens what sockets it needs and spawns a new generation
// as s.pending. The first generation's failure ends Run.
func (s *supervisor) startGeneration(cfg *config.Config, data []byte, reason string) error {
	g := &generation{
		n: s.nextGen, cfg: cfg, data: data, addr: listenAddr(cfg),
		size: s.workerCount(cfg), started: time.Now(), reason: reason,
	}
	s.nextGen++
	g.workers = make([]*proc, g.size)
	g.backoff = make([]backoff, g.size)
	if err := s.socks.ensure(g.addr, g.size); err != nil {
		err = fmt.Errorf("generation %d: %w", g.n, err)
		if s.live != nil {
			s.reloadFailed("failed_generation", err)
			s.runQueued()
		}
		return err
	}
	s.pending = g
	s.own.Info("generation starting", logging.KeyGen, g.n, "workers", g.size, "reason", reason)
	for slot := range g.size {
		if err := s.spawn(g, slot); err != nil {
			err = fmt.Errorf("generation %d: %w", g.n, err)
			s.failGeneration(g, err)
			return err
		}
	}
	s.after(readyTimeout(cfg), evReadyTimeout{g})
	return nil
}

func (s *supervisor) onMsg(p *proc, m ctl.Msg) {
	if p.exited {
		return
	}
	switch m.Kind {
	case ctl.KindReady:
		p.ready = true
		s.log.Info("worker ready", logging.KeyGen, p.gen.n, logging.KeyWorker, p.slot, logging.KeyPID, p.pid,
			logging.Took(time.Since(p.started)))
		if p.gen == s.pending && s.allReady(p.gen) {
			s.promote(p.gen)
			return
		}
		if p.gen == s.live {
			s.status.Workers = s.readyCount(s.live)
			s.pushStatus()
		}
	case ctl.KindFailed:
		s.log.Error("worker failed", logging.KeyGen, p.gen.n, logging.KeyWorker, p.slot, logging.KeyPID, p.pid,
			logging.KeyErr, m.Err)
		if p.gen == s.pending {
			s.failGeneration(p.gen, fmt.Errorf("generation %d: worker %d: %s: %w", p.gen.n, p.slot, m.Err, ErrGenerationFailed))
		}
	case ctl.KindMetricsRequest:
		s.requestScrape(p, m.ID)
	case ctl.KindJWKSRequest:
		// A fetch may take seconds: never in the loop.
		s.wg.Go(func() {
			doc, maxAge, err := s.jwks.get(context.Background(), m.URL, m.Force)
			s.post(evJWKS{p: p, id: m.ID, doc: doc, maxAge: maxAge, err: err})
		})
	case ctl.KindMetrics:
		snap := parseText(m.Text)
		p.last = &snap
		if s.scrape != nil && m.ID == s.scrape.id && s.scrape.waiting[p] {
			delete(s.scrape.waiting, p)
			if len(s.scrape.waiting) == 0 {
				s.finishScrape()
			}
		}
	}
}

func (s *supervisor) allReady(g *generation) bool {
	for _, p := range g.workers {
		if p == nil || !p.ready {
			return false
		}
	}
	return true
}

func (s *supervisor) readyCount(g *generation) int {
	n := 0
	for _, p := range g.workers {
		if p != nil && p.ready && !p.exited {
			n++
		}
	}
	return n
}

// promote makes the pending generation live and drains the old one.
func (s *supervisor) promote(g *generation) {
	old := s.live
	s.live, s.pending = g, nil
	took := time.Since(g.started)
	s.status.Generation = g.n
	s.status.Workers = s.readyCount(g)
	if old != nil {
		s.status.LastReload = "ok"
		s.status.LastReloadError = ""
		s.status.LastReloadUnix = time.Now().Unix()
		s.stats.Reloads["ok"]++
		for _, p := range old.workers {
			if p != nil && !p.exited {
				s.drainProc(p, grace(old.cfg))
			}
		}
		s.own.Info("reload", "result", "ok", logging.KeyGen, g.n, "reason", g.reason, "workers", g.size, "addr", s.socks.bound[g.addr],
			"reloads_ok", s.stats.Reloads["ok"], logging.Took(took))
	}
	s.socks.closeExcept(g.addr)
	s.pushStatus()
	s.notifyLive(old == nil)
	if old == nil {
		s.own.Info("ready", "addr", s.socks.bound[g.addr], logging.KeyGen, g.n, "workers", g.size,
			"version", buildinfo.Version, logging.Took(time.Since(s.start)))
		s.firstReady()
	}
	s.runQueued()
}

// failGeneration stops a pending generation; the live one keeps serving.
// For the first generation it ends Run with err.
func (s *supervisor) failGeneration(g *generation, err error) {
	if g != s.pending {
		return
	}
	s.pending = nil
	for _, p := range g.workers {
		if p != nil && !p.exited {
			s.stopProc(p)
		}
	}
	if s.live == nil {
		s.firstErr = err
		s.own.Error("first generation failed", logging.KeyGen, g.n, logging.Err(err))
		return
	}
	s.reloadFailed("failed_generation", err)
	s.runQueued()
}

func (s *supervisor) reloadFailed(result string, err error) {
	s.stats.Reloads[result]++
	s.status.LastReload = result
	s.status.LastReloadError = err.Error()
	s.status.LastReloadUnix = time.Now().Unix()
	s.own.Error("reload", "result", result, logging.Err(err), "reloads_"+result, s.stats.Reloads[result])
	s.pushStatus()
	s.notifyReloadFailed(result, err)
}

// onExit handles a reaped worker.
func (s *supervisor) onExit(p *proc, err error) {
	p.exited = true
	delete(s.procs, p)
	close(p.out)
	p.c.Close()
	if p.last != nil {
		s.retired.retire(*p.last)
	}
	if s.scrape != nil && s.scrape.waiting[p] {
		delete(s.scrape.waiting, p)
		if len(s.scrape.waiting) == 0 {
			s.finishScrape()
		}
	}
	g := p.gen
	attrs := []any{logging.KeyGen, g.n, logging.KeyWorker, p.slot, logging.KeyPID, p.pid,
		logging.Took(time.Since(p.started)), logging.Err(err)}
	if p.draining {
		s.log.Info("worker exited", attrs...)
		return
	}
	s.log.Warn("worker exited unexpectedly", attrs...)
	switch {
	case g == s.pending:
		s.failGeneration(g, fmt.Errorf("generation %d: worker %d exited before ready: %v: %w", g.n, p.slot, err, ErrGenerationFailed))
	case g == s.live && !s.stopping:
		d := g.backoff[p.slot].next(p.started, time.Now())
		s.own.Info("worker restart scheduled", logging.KeyGen, g.n, logging.KeyWorker, p.slot, "in", d.Seconds())
		s.after(d, evRestart{g, p.slot})
		s.status.Workers = s.readyCount(g)
		s.pushStatus()
	}
}

func (s *supervisor) restart(g *generation, slot int) {
	if g != s.live || s.stopping || (g.workers[slot] != nil && !g.workers[slot].exited) {
		return
	}
	s.stats.Restarts++
	if err := s.spawn(g, slot); err != nil {
		d := g.backoff[slot].next(time.Now(), time.Now())
		s.own.Error("worker restart", logging.KeyGen, g.n, logging.KeyWorker, slot, logging.Err(err), "retry_in", d.Seconds())
		s.after(d, evRestart{g, slot})
	}
}

// drainProc tells p to drain and schedules its kill.
func (s *supervisor) drainProc(p *proc, grace time.Duration) {
	if p.draining {
		return
	}
	p.draining = true
	s.send(p, ctl.Msg{Kind: ctl.KindDrain, GraceMS: grace.Milliseconds()})
	s.after(grace+killMargin, evKill{p})
}

// stopProc tells p to stop at once and schedules its kill.
func (s *supervisor) stopProc(p *proc) {
	p.draining = true
	s.send(p, ctl.Msg{Kind: ctl.KindStop})
	s.after(stopKillTimeout, evKill{p})
}

// pushStatus sends the host status to every worker that is not draining.
func (s *supervisor) pushStatus() {
	st := s.status
	for p := range s.procs {
		if p.draining || p.exited {
			continue
		}
		s.send(p, ctl.Msg{Kind: ctl.KindStatus, Status: &st})
	}
}

// ---- host metrics -------------------------------------------------------

// requestScrape answers a worker's host-metrics request: one scrape of
// every serving worker at a time; requests meanwhile join it.
func (s *supervisor) requestScrape(p *proc, id uint64) {
	if s.scrape == nil {
		s.scrapeSeq++
		sc := &hostScrape{id: s.scrapeSeq, waiting: map[*proc]bool{}}
		s.scrape = sc
		for q := range s.procs {
			if q.ready {
				sc.waiting[q] = true
				s.send(q, ctl.Msg{Kind: ctl.KindMetricsRequest, ID: sc.id})
			}
		}
		s.after(scrapeTimeoutMS*time.Millisecond, evScrapeTimeout{sc.id})
	}
	s.scrape.requesters = append(s.scrape.requesters, requester{p, id})
	if len(s.scrape.waiting) == 0 {
		s.finishScrape()
	}
}

// finishScrape sums the workers' latest snapshots (fresh, or the last one of
// a worker that did not answer in time, so a sum never dips) with the
// retired totals and the supervisor's own series, and answers the requesters.
func (s *supervisor) finishScrape() {
	sc := s.scrape
	s.scrape = nil
	a := newSum()
	for q := range s.procs {
		if q.last != nil {
			a.add(*q.last, q.gen == s.live && !q.draining)
		}
	}
	a.merge(s.retired)
	if s.prev != nil {
		a.merge(s.prev)
	}
	a.clampMonotonic(s.exposed)
	var b bytes.Buffer
	a.write(&b)
	s.supervisorMetrics(&b)
	text := b.String()
	for _, r := range sc.requesters {
		s.send(r.p, ctl.Msg{Kind: ctl.KindMetrics, ID: r.id, Text: text})
	}
}

// monotonicTotals is the text of every counter-like host series: live
// workers' latest snapshots, retired workers, and a previous supervisor's.
func (s *supervisor) monotonicTotals() string {
	a := newSum()
	for p := range s.procs {
		if p.last != nil {
			a.retire(*p.last)
		}
	}
	a.merge(s.retired)
	if s.prev != nil {
		a.merge(s.prev)
	}
	a.clampMonotonic(s.exposed)
	var b bytes.Buffer
	a.write(&b)
	return b.String()
}

// ---- reload ------------------------------------------------------------

// requestReload re-reads the config. A "file" request with unchanged bytes
// is ignored; while a generation is pending, requests are coalesced.
func (s *supervisor) requestReload(reason string) {
	if s.stopping {
		return
	}
	if s.live == nil || s.pending != nil || s.upgrading != nil {
		s.queued = reason
		return
	}
	data, err := os.ReadFile(s.opts.ConfigPath)
	if err != nil {
		s.reloadFailed("invalid_config", fmt.Errorf("config: %w", err))
		return
	}
	if reason == "file" && string(data) == string(s.lastData) {
		return
	}
	s.notifyReloading(reason)
	s.lastData = data
	cfg, err := config.Parse(data, s.opts.ConfigPath, s.opts.Getenv)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				s.own.Error("config error", "reason", reason, logging.Err(e))
			}
		}
		s.reloadFailed("invalid_config", err)
		return
	}
	// startGeneration records its own failure (failed_generation).
	_ = s.startGeneration(cfg, data, reason)
}

// runQueued runs a reload that was coalesced while another was pending.
func (s *supervisor) runQueued() {
	if s.queued == "" || s.pending != nil || s.upgrading != nil {
		return
	}
	reason := s.queued
	s.queued = ""
	s.requestReload(reason)
}

// ---- shutdown ----------------------------------------------------------

// beginShutdown starts a graceful shutdown: /readyz turns 503 at once,
// traffic is served for server.shutdown_delay_secs, then every worker drains.
func (s *supervisor) beginShutdown(reason string) {
	if s.stopping {
		return
	}
	s.stopping = true
	s.notifyStopping(reason)
	s.own.Info("shutting down", "reason", reason)
	if s.pending != nil {
		g := s.pending
		s.pending = nil
		for _, p := range g.workers {
			if p != nil && !p.exited {
				s.stopProc(p)
			}
		}
	}
	s.abortUpgrade()
	s.status.Ready = false
	s.pushStatus()
	delay := time.Duration(0)
	if s.live != nil {
		delay = time.Duration(s.live.cfg.Server.ShutdownDelaySecs) * time.Second
	}
	if delay > 0 {
		s.after(delay, evDrainAll{})
		return
	}
	s.drainAll()
}

// drainAll tells every worker to drain and closes the supervisor's copies
// of the sockets, so they close when the last worker lets go.
func (s *supervisor) drainAll() {
	if s.draining {
		return
	}
	s.draining = true
	g := defaultGrace
	if s.live != nil {
		g = grace(s.live.cfg)
	}
	for p := range s.procs {
		s.drainProc(p, g)
	}
	s.socks.closeAll()
	if !s.handedOff {
		s.removePIDFile()
	}
}

// forceStop kills every worker at once (second signal).
func (s *supervisor) forceStop() {
	s.forced = true
	s.own.Warn("forced stop")
	for p := range s.procs {
		p.draining = true
		_ = p.process.Kill()
	}
	s.socks.closeAll()
	s.removePIDFile()
}

func (s *supervisor) closeAll() {
	for p := range s.procs {
		_ = p.process.Kill()
	}
	s.socks.closeAll()
	if s.upgradeReady != nil {
		s.upgradeReady.Close()
	}
	if s.prevConn != nil {
		s.prevConn.Close()
	}
	s.handOffMetrics()
	if s.limiter != nil {
		s.limiter.Close()
	}
}
