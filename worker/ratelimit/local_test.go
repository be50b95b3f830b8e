package ratelimit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/config"
	"github.com/fluxgate/fluxgate/shared/shm"
)

// childEnv makes the test binary run childMain instead of the tests: the
// multi-process test re-executes itself (tableflip / fasthttp prefork style).
const childEnv = "FLUXGATE_RATELIMIT_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := childMain(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childPolicy is the policy shared by the processes of TestLocalExactAcrossProcesses:
// 1000 tokens/s (1ms emission), burst 1000, which lets the lower bound hold
// through scheduling stalls of up to a second on a loaded machine.
var childPolicy = config.RateLimit{Name: "mp", LimitPerMinute: 60000, Burst: 1000, Store: "local"}

// childMain maps the table passed as fd 3, says "ready", waits for a line on
// stdin, then takes tokens for one key for the given duration and prints
// "<admitted> <first> <lastBefore> <lastAfter>": CLOCK_MONOTONIC µs before
// its first decision, and before and after its last one.
func childMain() error {
	d, err := time.ParseDuration(os.Getenv(childEnv))
	if err != nil {
		return err
	}
	l, err := New([]config.RateLimit{childPolicy}, Options{Table: os.NewFile(3, "table")})
	if err != nil {
		return err
	}
	defer l.Close()
	p := l.Policy(childPolicy.Name)
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	r := hammer(l, p, []byte("203.0.113.7"), d)
	fmt.Println(r.admitted, r.first, r.lastBefore, r.lastAfter)
	return nil
}

// hammerResult is what one hammering loop saw, times in CLOCK_MONOTONIC µs.
type hammerResult struct {
	admitted                     int
	first, lastBefore, lastAfter int64
}

// hammer takes tokens for key as fast as it can for d, and then until a
// refusal, so that no token available at the end is left unclaimed (a
// scheduling stall just before the deadline would otherwise look like a
// lost token).
func hammer(l *Limiter, p *Policy, key []byte, d time.Duration) hammerResult {
	ctx := context.Background()
	r := hammerResult{first: l.clock.micros()}
	for end := time.Now().Add(d); ; {
		r.lastBefore = l.clock.micros()
		ok := p.Allow(ctx, key).Allowed
		r.lastAfter = l.clock.micros()
		if ok {
			r.admitted++
		} else if time.Now().After(end) {
			return r
		}
	}
}

// drain empties key's bucket: it takes tokens until the first refusal and
// returns the number admitted, the time before the first call and the time
// after the refusal (when the bucket was certainly empty).
func drain(l *Limiter, p *Policy, key []byte) (admitted int, first, empty int64) {
	first = l.clock.micros()
	for p.Allow(context.Background(), key).Allowed {
		admitted++
	}
	return admitted, first, l.clock.micros()
}

// checkExact asserts the bucket's bound on admissions, ± 1:
//   - at most burst + (lastAfter − first)/emit in all, first being before
//     the first decision and lastAfter after the last one;
//   - at least (lastBefore − empty)/emit after the bucket was emptied at
//     empty: from then on some process is always asking, so every token is
//     taken as it becomes available, even across scheduling stalls shorter
//     than burst × emit (the bucket holds the tokens meanwhile).
func checkExact(t *testing.T, what string, drained, admitted, burst int, emit, first, empty, lastBefore, lastAfter int64) {
	t.Helper()
	hi := int64(burst) + (lastAfter-first)/emit + 1
	lo := (lastBefore-empty)/emit - 1
	t.Logf("%s: drained %d, then admitted %d over %dµs; total %d ≤ %d; after emptying %d ≥ %d",
		what, drained, admitted, lastAfter-empty, drained+admitted, hi, admitted, lo)
	if total := int64(drained + admitted); total > hi {
		t.Fatalf("%s: admitted %d in all; want at most burst + rate×span + 1 = %d", what, total, hi)
	}
	if int64(admitted) < lo {
		t.Fatalf("%s: admitted %d after emptying; want at least rate×span - 1 = %d", what, admitted, lo)
	}
	if drained < burst {
		t.Fatalf("%s: drained %d; want at least the burst %d", what, drained, burst)
	}
}

// TestLocalExactAcrossProcesses runs several processes that map one memfd
// table and hammer one key, after the test process emptied its bucket.
func TestLocalExactAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const procs = 4
	f, err := shm.Create("fluxgate-ratelimit-test", MinTableBytes*64)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var children []child
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1s")
		cmd.ExtraFiles = []*os.File{f}
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		c := child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
		if line, err := c.out.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("child: %q, %v", line, err)
		}
		children = append(children, c)
	}
	l, err := New([]config.RateLimit{childPolicy}, Options{Table: f})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	drained, first, empty := drain(l, l.Policy(childPolicy.Name), []byte("203.0.113.7"))
	for _, c := range children {
		io.WriteString(c.stdin, "go\n")
	}
	var total hammerResult
	for _, c := range children {
		line, err := c.out.ReadString('\n')
		if err != nil {
			t.Fatalf("child result: %v", err)
		}
		var r hammerResult
		if _, err := fmt.Sscan(line, &r.admitted, &r.first, &r.lastBefore, &r.lastAfter); err != nil {
			t.Fatalf("child result %q: %v", line, err)
		}
		total.admitted += r.admitted
		total.lastBefore = max(total.lastBefore, r.lastBefore)
		total.lastAfter = max(total.lastAfter, r.lastAfter)
		if err := c.cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	emit := int64(60e6) / int64(childPolicy.LimitPerMinute)
	checkExact(t, fmt.Sprintf("%d processes", procs), drained, total.admitted, childPolicy.Burst, emit, first, empty, total.lastBefore, total.lastAfter)
}

func newLocalLimiter(t *testing.T, policies ...config.RateLimit) *Limiter {
	t.Helper()
	for i := range policies {
		policies[i].Store = "local"
	}
	l, err := New(policies, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// TestLocalBurstThenSteady checks one process against the formula.
func TestLocalBurstThenSteady(t *testing.T) {
	// Burst 1000 at 1ms: the lower bound survives scheduling stalls < 1s.
	l := newLocalLimiter(t, config.RateLimit{Name: "p", LimitPerMinute: 60000, Burst: 1000})
	p := l.Policy("p")
	drained, first, empty := drain(l, p, []byte("k"))
	r := hammer(l, p, []byte("k"), 300*time.Millisecond)
	checkExact(t, "1 process", drained, r.admitted, 1000, 1000, first, empty, r.lastBefore, r.lastAfter)
}

func TestLocalDecisionFields(t *testing.T) {
	l := newLocalLimiter(t,
		config.RateLimit{Name: "p", LimitPerMinute: 60, Burst: 3},
		config.RateLimit{Name: "s", LimitPerMinute: 60, Burst: 1, Shadow: true})
	p := l.Policy("p")
	ctx := context.Background()
	key := []byte("client")
	for i, want := range []int{2, 1, 0} {
		d := p.Allow(ctx, key)
		if !d.Allowed || d.Remaining != want || d.Limit != 3 || d.Source != SourceLocal || d.Status != 0 {
			t.Fatalf("Allow #%d = %+v; want allowed, remaining %d", i, d, want)
		}
	}
	d := p.Allow(ctx, key)
	if d.Allowed || d.Status != 429 || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("Allow #4 = %+v; want refused with 0 < RetryAfter ≤ 1s", d)
	}
	if d.Reset <= 2*time.Second || d.Reset > 3*time.Second {
		t.Fatalf("Allow #4 Reset = %v; want (2s, 3s]", d.Reset)
	}
	if d := p.Allow(ctx, []byte("other")); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("other key: %+v; want its own bucket", d)
	}
	s := l.Policy("s")
	s.Allow(ctx, key)
	if d := s.Allow(ctx, key); d.Allowed || !d.Shadow || d.Status != 429 {
		t.Fatalf("shadow policy: %+v; want refused with Shadow", d)
	}
	if l.RedisState() != RedisUnused {
		t.Fatalf("RedisState = %q; want unused", l.RedisState())
	}
}

// TestTable exercises slot reuse, deny-without-write and eviction directly.
func TestTable(t *testing.T) {
	tb, err := newTable(make([]uint64, (MinTableBytes)/8)) // one bucket
	if err != nil {
		t.Fatal(err)
	}
	const emit, limit = 10, 20 // capacity 2
	h := func(tag uint64) uint64 { return tag << tatBits }
	if ok, reset, _ := tb.take(h(1), 1000, emit, limit); !ok || reset != 10 {
		t.Fatalf("first take: %v %d", ok, reset)
	}
	tb.take(h(1), 1000, emit, limit)
	before := append([]uint64(nil), tb.words...)
	if ok, reset, retry := tb.take(h(1), 1000, emit, limit); ok || reset != 20 || retry != 10 {
		t.Fatalf("third take = %v, %d, %d; want refused, reset 20, retry 10", ok, reset, retry)
	}
	for i := range before {
		if before[i] != tb.words[i] {
			t.Fatalf("a refusal wrote word %d", i)
		}
	}
	if ok, _, _ := tb.take(h(1), 1010, emit, limit); !ok {
		t.Fatal("no token after one emission interval")
	}
	// Fill the other 7 slots with live keys, then an 9th key evicts the
	// slot closest to expiry.
	for tag := uint64(2); tag <= 8; tag++ {
		if ok, _, _ := tb.take(h(tag), 1010+int64(tag), emit, limit); !ok {
			t.Fatalf("key %d refused", tag)
		}
	}
	if tb.evictions() != 0 {
		t.Fatalf("evictions = %d before the bucket was full", tb.evictions())
	}
	if ok, _, _ := tb.take(h(9), 1011, emit, limit); !ok || tb.evictions() != 1 {
		t.Fatalf("9th key: ok %v, evictions %d; want admitted, 1 eviction", ok, tb.evictions())
	}
	// All slots expired: every key is free again, no eviction.
	for tag := uint64(10); tag < 18; tag++ {
		if ok, _, _ := tb.take(h(tag), 1_000_000, emit, limit); !ok {
			t.Fatalf("key %d refused on an expired bucket", tag)
		}
	}
	if tb.evictions() != 1 {
		t.Fatalf("evictions = %d; want 1 (expired slots are free)", tb.evictions())
	}
}

// TestTableRaise: a TAT reported by Redis is mirrored (never lowered) and
// later local decisions continue from it.
func TestTableRaise(t *testing.T) {
	tb, err := newTable(make([]uint64, (MinTableBytes)/8))
	if err != nil {
		t.Fatal(err)
	}
	const emit, limit = 10, 20 // capacity 2
	h := uint64(1) << tatBits
	tb.raise(h, 1000, 1000) // a full bucket: nothing recorded
	if ok, reset, _ := tb.take(h, 1000, emit, limit); !ok || reset != 10 {
		t.Fatalf("take after a no-op raise = %v, %d; want admitted, reset 10", ok, reset)
	}
	tb.raise(h, 1000, 1015) // Redis saw more: one and a half tokens used
	tb.raise(h, 1000, 1005) // never lowered
	if ok, reset, retry := tb.take(h, 1000, emit, limit); ok || reset != 15 || retry != 5 {
		t.Fatalf("take after raise = %v, %d, %d; want refused, reset 15, retry 5", ok, reset, retry)
	}
	if ok, _, _ := tb.take(h, 1005, emit, limit); !ok {
		t.Fatal("no token when the mirrored bucket refilled")
	}
}

func TestTableLayoutChecked(t *testing.T) {
	w := make([]uint64, 1024)
	if _, err := newTable(w); err != nil {
		t.Fatal(err)
	}
	if _, err := newTable(w[:512]); err == nil {
		t.Fatal("a table with another bucket count was accepted")
	}
	w[0] = 42
	if _, err := newTable(w); err == nil {
		t.Fatal("a foreign layout was accepted")
	}
	if _, err := newTable(make([]uint64, 3)); err == nil {
		t.Fatal("a tiny table was accepted")
	}
}

func TestNewRejectsBadPolicies(t *testing.T) {
	f := func(c config.RateLimit) {
		t.Helper()
		if l, err := New([]config.RateLimit{c}, Options{}); err == nil {
			l.Close()
			t.Errorf("New(%+v) succeeded; want an error", c)
		}
	}
	f(config.RateLimit{Name: "", LimitPerMinute: 1})
	f(config.RateLimit{Name: "a", LimitPerMinute: 0})
	f(config.RateLimit{Name: "a", LimitPerMinute: 1, Burst: -1})
	f(config.RateLimit{Name: "a", LimitPerMinute: 1, Burst: 1 << 40, Store: "local"})
	f(config.RateLimit{Name: "a", LimitPerMinute: 1, Store: "memcached"})
	f(config.RateLimit{Name: "a", LimitPerMinute: 1, Store: "local", OnRedisFailure: "panic"})
	f(config.RateLimit{Name: "a", LimitPerMinute: 1, Store: "local", Key: []string{"cookie"}})
	if _, err := New([]config.RateLimit{{Name: "a", LimitPerMinute: 1, Store: "local"}, {Name: "a", LimitPerMinute: 2, Store: "local"}}, Options{}); err == nil {
		t.Error("duplicate policy names accepted")
	}
	if _, err := New([]config.RateLimit{{Name: "a", LimitPerMinute: 1}}, Options{RedisURL: "http://x"}); err == nil {
		t.Error("bad Redis URL accepted")
	}
}

func TestSharedTableSurvivesLimiters(t *testing.T) {
	f, err := shm.Create("t", DefaultTableBytes/64)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pol := config.RateLimit{Name: "p", LimitPerMinute: 1, Burst: 2, Store: "local"}
	take := func() bool {
		l, err := New([]config.RateLimit{pol}, Options{Table: f})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Policy("p").Allow(context.Background(), []byte("k")).Allowed
	}
	got := []bool{take(), take(), take()}
	if want := "[true true false]"; fmt.Sprint(got) != want {
		t.Fatalf("three limiter generations: %v; want %s", got, want)
	}
}
