package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the directory holding go.mod, above the test's directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// needTool returns the path of command, installing Debian package pkg with
// apt-get when it is missing and we are root; otherwise the test is skipped.
func needTool(t testing.TB, command, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(command); err == nil {
		return p
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		t.Skipf("%s not found and cannot be installed here (needs root and apt-get): apt-get install %s", command, pkg)
	}
	install := func() ([]byte, error) {
		cmd := exec.Command(apt, "install", "-y", "--no-install-recommends", pkg)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if out, err := install(); err != nil {
		if out, err := exec.Command(apt, "update").CombinedOutput(); err != nil {
			t.Skipf("%s not found; apt-get update: %v\n%s", command, err, out)
		}
		if out2, err := install(); err != nil {
			t.Skipf("%s not found; apt-get install %s: %v\n%s\n%s", command, pkg, err, out, out2)
		}
	}
	p, err := exec.LookPath(command)
	if err != nil {
		t.Skipf("%s still not found after apt-get install %s", command, pkg)
	}
	return p
}

// unitFile is scripts/fluxgate.service.
func unitFile(t testing.TB) string { return filepath.Join(repoRoot(t), "scripts", "fluxgate.service") }

// unitValues parses a unit file: key → values in order (sections merged;
// the unit has no key in two sections).
func unitValues(t testing.TB, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == ';' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q is not key=value", path, l)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestSystemdUnitContract checks the settings the gateway's lifecycle
// depends on (the reasons are in the unit's comments).
func TestSystemdUnitContract(t *testing.T) {
	u := unitValues(t, unitFile(t))
	f := func(key, want string) {
		t.Helper()
		if got := u[key]; !slices.Contains(got, want) {
			t.Errorf("%s=%q; want %q", key, got, want)
		}
	}
	f("Type", "notify")
	f("NotifyAccess", "all")
	f("ExecStart", "/usr/local/bin/fluxgate run -c /etc/fluxgate/config.yaml")
	f("ExecReload", "/bin/kill -HUP $MAINPID")
	f("KillMode", "control-group")
	f("KillSignal", "SIGTERM")
	f("Restart", "on-failure")
	f("OOMPolicy", "continue")
	f("LimitNOFILE", "1048576")
	f("MemoryDenyWriteExecute", "yes")
	f("SystemCallFilter", "@system-service")
	f("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")
	f("AmbientCapabilities", "CAP_NET_BIND_SERVICE")
	f("WantedBy", "multi-user.target")
	// Default drain: shutdown_delay_secs 0 + grace 30 + 2 s kill margin.
	if secs, err := strconv.Atoi(strings.Join(u["TimeoutStopSec"], "")); err != nil || secs <= 32 {
		t.Errorf("TimeoutStopSec=%q; want more than 32 s", u["TimeoutStopSec"])
	}
}

// TestSystemdVerify runs `systemd-analyze verify` on the unit, with
// ExecStart pointed at the binary built for this test run (verify checks
// that the command exists).
func TestSystemdVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	needTool(t, "kill", "procps") // ExecReload=/bin/kill: verify checks it exists
	src, err := os.ReadFile(unitFile(t))
	if err != nil {
		t.Fatal(err)
	}
	const installed = "ExecStart=/usr/local/bin/fluxgate "
	if !strings.Contains(string(src), installed) {
		t.Fatalf("unit has no %q line", installed)
	}
	dir := t.TempDir()
	verify := func(name, text string) (string, error) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", "--man=no", path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	unit := strings.Replace(string(src), installed, "ExecStart="+Binary()+" ", 1)

	// verify exits 0 even on unknown keys or bad values: its output is
	// the verdict. First make sure it does report problems here.
	bad := strings.Replace(unit, "\nKillMode=control-group\n", "\nKillMode=bogus\nNoSuchKey=1\n", 1)
	if out, _ := verify("fluxgate-bad.service", bad); !strings.Contains(out, "NoSuchKey") || !strings.Contains(out, "bogus") {
		t.Fatalf("systemd-analyze verify did not report a broken unit; output:\n%s", out)
	}

	out, err := verify("fluxgate.service", unit)
	if err != nil {
		t.Errorf("systemd-analyze verify: %v", err)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, "fluxgate"):
			t.Errorf("systemd-analyze verify: %s", l)
		default: // about other units of this machine
			t.Logf("systemd-analyze verify (not about fluxgate): %s", l)
		}
	}
}

// syscallGroups parses `systemd-analyze syscall-filter`: group → members
// (system calls and nested groups).
func syscallGroups(t testing.TB, analyze string) map[string][]string {
	t.Helper()
	out, err := exec.Command(analyze, "syscall-filter").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	groups := map[string][]string{}
	cur := ""
	for l := range strings.SplitSeq(string(out), "\n") {
		switch s := strings.TrimSpace(l); {
		case strings.HasPrefix(l, "@"):
			cur = s
		case s == "" || s[0] == '#':
		case cur != "":
			groups[cur] = append(groups[cur], s)
		}
	}
	return groups
}

// filterAllows evaluates SystemCallFilter= lines: the first allow list,
// minus every "~" deny list.
func filterAllows(groups map[string][]string, lines []string) map[string]bool {
	var expand func(name string, into map[string]bool, v bool)
	expand = func(name string, into map[string]bool, v bool) {
		if !strings.HasPrefix(name, "@") {
			into[name] = v
			return
		}
		for _, m := range groups[name] {
			expand(m, into, v)
		}
	}
	allowed := map[string]bool{}
	for _, l := range lines { // allow lists first, then denials
		if !strings.HasPrefix(l, "~") {
			for _, n := range strings.Fields(l) {
				expand(n, allowed, true)
			}
		}
	}
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "~"); ok {
			for _, n := range strings.Fields(rest) {
				expand(n, allowed, false)
			}
		}
	}
	return allowed
}

// TestSystemdSyscallFilter runs the gateway under strace through a start,
// proxied and rate-limited requests, a reload, a binary upgrade and a
// shutdown, with $NOTIFY_SOCKET set, and checks that every system call and
// socket family it used passes the unit's SystemCallFilter= and
// RestrictAddressFamilies= (a filtered call would fail with EPERM).
func TestSystemdSyscallFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("strace run")
	}
	if os.Getenv("FLUXGATE_E2E_RACE") == "1" {
		t.Skip("the race-detector build makes other system calls than the released binary")
	}
	analyze := needTool(t, "systemd-analyze", "systemd")
	straceBin := needTool(t, "strace", "strace")
	if out, err := exec.Command(straceBin, "-f", "-qq", "-o", os.DevNull, "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (ptrace not permitted?): %v\n%s", err, out)
	}
	u := unitValues(t, unitFile(t))
	// Settings that add denials of their own (systemd.exec(5)).
	filters := slices.Clone(u["SystemCallFilter"])
	for key, deny := range map[string]string{
		"ProtectClock":         "~@clock",
		"PrivateDevices":       "~@raw-io",
		"ProtectKernelModules": "~@module",
		"ProtectKernelLogs":    "~syslog",
		"ProtectHostname":      "~sethostname setdomainname",
	} {
		if slices.Contains(u[key], "yes") {
			filters = append(filters, deny)
		}
	}
	allowed := filterAllows(syscallGroups(t, analyze), filters)
	families := strings.Fields(strings.Join(u["RestrictAddressFamilies"], " "))
	if allowed["reboot"] || !allowed["execve"] {
		t.Fatalf("SystemCallFilter=%q evaluated to reboot=%v execve=%v; the parser is wrong", u["SystemCallFilter"], allowed["reboot"], allowed["execve"])
	}
	if !allowed["memfd_create"] {
		t.Errorf("the unit's SystemCallFilter= denies memfd_create (the rate-limit table)")
	}

	up := StartUpstream(t, "up")
	n := ListenNotify(t)
	dir := t.TempDir()
	trace := filepath.Join(dir, "strace.txt")
	g := &Gateway{
		t: t, Dir: dir,
		ConfigPath: filepath.Join(dir, "config.yaml"),
		LogPath:    filepath.Join(dir, "gateway.log"),
		exited:     make(chan int, 1),
		seen:       map[int]bool{},
		Client:     &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	g.WriteConfig(Config(2, "  pid_file: "+filepath.Join(dir, "fluxgate.pid"), `
auth_policies:
  - name: default
    algorithm: HS256
    issuer: gateway
upstreams:
  - name: up
    base_url: "http://`+up.Addr+`"
routes:
  - id: api
    match_path: {prefix: "/api"}
    upstream: up
    rate_limit: lim
  - id: secure
    match_path: {prefix: "/secure"}
    upstream: up
    auth_policy: default
rate_limits:
  - name: lim
    limit_per_minute: 6000
    burst: 100
    key: [client_ip, route_path]
`))
	logf, err := os.Create(g.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(straceBin, "-f", "-qq", "-o", trace, "--", Binary(), "run", "-c", g.ConfigPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), n.Env(), "JWT_SECRET=syscall-test", "REDIS_URL=redis://"+closedAddr(t)+"/")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.track(t, cmd) // strace's pid until the supervisor reports its own

	const wait = 60 * time.Second // everything is slower under strace
	m, _ := n.Wait(wait, "READY=1 at start", has("READY", "1"))
	first, _ := strconv.Atoi(m["MAINPID"])
	g.SetPID(first)
	g.Addr = g.WaitLog(wait, IsMsg("ready", "pid", first)).Str("addr")
	get := func(path string, want int) {
		t.Helper()
		if code, body, err := g.Get(path); err != nil || code != want {
			t.Errorf("GET %s = %d, %v (%.100q); want %d", path, code, err, body, want)
		}
	}
	get("/api/hello", 200)
	get("/secure/x", 401)
	get("/readyz", 200)
	get("/metrics", 200)

	g.Signal(syscall.SIGHUP)
	n.Wait(wait, "RELOADING=1", has("RELOADING", "1"))
	n.Wait(wait, "READY=1 after the reload", has("READY", "1"))
	get("/api/hello", 200)

	g.Signal(syscall.SIGUSR2)
	m, _ = n.Wait(wait, "READY=1 from the new supervisor", func(m Notification) bool { return m["MAINPID"] != "" })
	second, _ := strconv.Atoi(m["MAINPID"])
	g.SetPID(second)
	if !WaitGone(first, wait) {
		t.Errorf("old supervisor %d still running after the upgrade", first)
	}
	get("/api/hello", 200)
	get("/metrics", 200)

	g.Client.CloseIdleConnections()
	g.Signal(syscall.SIGTERM)
	n.Wait(wait, "STOPPING=1", has("STOPPING", "1"))
	if code := g.WaitExit(wait); code != 0 {
		t.Errorf("strace (exit code of the traced supervisor) = %d; want 0", code)
	}

	used, fams, wx := tracedCalls(t, trace)
	if len(wx) > 0 && slices.Contains(u["MemoryDenyWriteExecute"], "yes") {
		t.Errorf("writable and executable mappings, refused with MemoryDenyWriteExecute=yes: %q", wx)
	}
	var denied []string
	for _, name := range used {
		if !allowed[name] {
			denied = append(denied, name)
		}
	}
	if len(denied) > 0 {
		t.Errorf("system calls used but not allowed by SystemCallFilter=%q: %v", filters, denied)
	}
	for _, fam := range fams {
		if !slices.Contains(families, fam) {
			t.Errorf("socket family %s used but not in RestrictAddressFamilies=%v", fam, families)
		}
	}
	t.Logf("%d distinct system calls, socket families %v: all allowed by the unit", len(used), fams)
}

var (
	traceCall   = regexp.MustCompile(`^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]`)
	traceFamily = regexp.MustCompile(`\bsocket(?:pair)?\((AF_[A-Z0-9]+)`)
	traceProt   = regexp.MustCompile(`\b(?:mmap|mprotect|pkey_mprotect)\(.*PROT_[A-Z_|]*`)
)

// tracedCalls lists the distinct system calls and socket families in an
// `strace -f` output file, and the calls that map memory writable and
// executable at once.
func tracedCalls(t testing.TB, path string) (calls, families, wx []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	fams := map[string]bool{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if m := traceCall.FindStringSubmatch(l); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			calls = append(calls, m[1])
		}
		if p := traceProt.FindString(l); strings.Contains(p, "PROT_WRITE") && strings.Contains(p, "PROT_EXEC") {
			wx = append(wx, l)
		}
		if m := traceFamily.FindStringSubmatch(l); m != nil && !fams[m[1]] {
			fams[m[1]] = true
			families = append(families, m[1])
		}
	}
	if len(calls) < 20 {
		t.Fatalf("strace output has %d system calls; want a real trace", len(calls))
	}
	slices.Sort(calls)
	return calls, families, wx
}
