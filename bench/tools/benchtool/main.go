// Command benchtool is the helper of scripts/bench.sh: it mints the keys and
// JWTs of the auth scenarios, finds a free loopback port for programs that
// cannot report their own (NGINX), parses wrk's text output, and turns the
// measured rounds into the markdown table of bench/results/.
//
//	benchtool keys DIR                          hs256.secret, rs256.key, rs256.pub
//	benchtool token -alg HS256|RS256 -key FILE [-iss bench] [-ttl 24h] [-n 1]
//	benchtool freeport                          a free 127.0.0.1 port, now
//	benchtool wrk < wrk-output                  rps p50_ms p99_ms non2xx sockerr requests (TSV)
//	benchtool table RAW.tsv NOTES.tsv           markdown tables from the rounds
//
// It is a bench tool, not part of the gateway: it exits on the first error.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cristalhq/jwt/v5"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool keys|token|freeport|wrk|table ...")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "keys":
		err = keys(args)
	case "token":
		err = token(args)
	case "freeport":
		err = freeport()
	case "wrk":
		err = parseWrk(os.Stdin, os.Stdout)
	case "table":
		err = table(args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// keys writes a random HS256 secret and an RSA-2048 key pair into dir.
func keys(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: keys DIR")
	}
	dir := args[0]
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hs256.secret"), []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		return err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(filepath.Join(dir, "rs256.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "rs256.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

// token prints n tokens, one a line, each with its own subject and jti.
func token(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	alg := fs.String("alg", "HS256", "HS256 or RS256")
	keyFile := fs.String("key", "", "HS secret file, or RSA private key PEM file")
	iss := fs.String("iss", "bench", "issuer")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	n := fs.Int("n", 1, "number of distinct tokens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	var signer jwt.Signer
	switch *alg {
	case "HS256":
		signer, err = jwt.NewSignerHS(jwt.HS256, []byte(strings.TrimSpace(string(key))))
	case "RS256":
		b, _ := pem.Decode(key)
		if b == nil {
			return fmt.Errorf("%s: no PEM block", *keyFile)
		}
		var k *rsa.PrivateKey
		if k, err = x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
			signer, err = jwt.NewSignerRS(jwt.RS256, k)
		}
	default:
		return fmt.Errorf("unsupported -alg %q", *alg)
	}
	if err != nil {
		return err
	}
	builder := jwt.NewBuilder(signer)
	now := time.Now()
	out := make([]string, *n)
	errs := make([]error, *n)
	// RSA signing is slow enough that thousands of tokens deserve every core.
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				claims := jwt.RegisteredClaims{
					ID:        strconv.Itoa(i),
					Issuer:    *iss,
					Subject:   "user-" + strconv.Itoa(i),
					IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)),
					ExpiresAt: jwt.NewNumericDate(now.Add(*ttl)),
				}
				t, err := builder.Build(claims)
				if err != nil {
					errs[i] = err
					continue
				}
				out[i] = t.String()
			}
		})
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	for _, t := range out {
		fmt.Fprintln(w, t)
	}
	return w.Flush()
}

// freeport prints a port that was free on 127.0.0.1 a moment ago. The caller
// must still check that its program bound it (another process may win).
func freeport() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

// wrkResult is what one wrk run is reduced to.
type wrkResult struct {
	rps, p50, p99  float64 // requests/s, milliseconds
	non2xx, sock   int64   // "Non-2xx or 3xx responses", sum of socket errors
	requests       int64
	sawLatencyDist bool
}

var (
	reRPS      = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)`)
	rePct      = regexp.MustCompile(`^\s*(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSock     = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reRequests = regexp.MustCompile(`^\s*(\d+) requests in `)
)

// parseWrk reads `wrk --latency` output and prints one TSV line:
// rps p50_ms p99_ms non2xx sockerr requests.
func parseWrk(r io.Reader, w io.Writer) error {
	var res wrkResult
	sawRPS := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := reRPS.FindStringSubmatch(line); m != nil {
			res.rps, _ = strconv.ParseFloat(m[1], 64)
			sawRPS = true
		}
		if m := rePct.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m[3]]
			if m[1] == "50" {
				res.p50 = v
			} else {
				res.p99 = v
			}
			res.sawLatencyDist = true
		}
		if m := reNon2xx.FindStringSubmatch(line); m != nil {
			res.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m := reSock.FindStringSubmatch(line); m != nil {
			for _, s := range m[1:] {
				n, _ := strconv.ParseInt(s, 10, 64)
				res.sock += n
			}
		}
		if m := reRequests.FindStringSubmatch(line); m != nil {
			res.requests, _ = strconv.ParseInt(m[1], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !sawRPS || !res.sawLatencyDist {
		return errors.New("wrk output without Requests/sec or latency distribution (was --latency given?)")
	}
	_, err := fmt.Fprintf(w, "%.2f\t%.3f\t%.3f\t%d\t%d\t%d\n", res.rps, res.p50, res.p99, res.non2xx, res.sock, res.requests)
	return err
}

// round is one line of the raw file written by bench.sh:
// scenario target round rps p50 p99 non2xx sockerr requests cpu_seconds.
type round struct {
	scenario, target   string
	n                  int
	rps, p50, p99, cpu float64
	non2xx, sock, reqs int64
}

// table prints the summary table (means over rounds), the CPU table and the
// raw rounds, in markdown.
func table(args []string, w io.Writer) error {
	if len(args) != 2 {
		return errors.New("usage: table RAW.tsv NOTES.tsv")
	}
	rounds, err := readRounds(args[0])
	if err != nil {
		return err
	}
	notes, order, err := readNotes(args[1])
	if err != nil {
		return err
	}
	by := map[string]map[string][]round{}
	for _, r := range rounds {
		if by[r.scenario] == nil {
			by[r.scenario] = map[string][]round{}
		}
		by[r.scenario][r.target] = append(by[r.scenario][r.target], r)
	}
	for s := range by {
		if _, ok := notes[s]; !ok {
			order = append(order, s)
		}
	}

	fmt.Fprintln(w, "| scenario | fluxgate req/s | NGINX req/s | ratio fluxgate/NGINX | fluxgate p50/p99 | NGINX p50/p99 | errors | direct ceiling | notes |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |")
	for _, s := range order {
		fg, ng, up := summarize(by[s]["fluxgate"]), summarize(by[s]["nginx"]), summarize(by[s]["direct"])
		if fg.n+ng.n+up.n == 0 {
			continue
		}
		ratio := "n/a"
		if fg.n > 0 && ng.n > 0 && ng.rps > 0 {
			ratio = fmt.Sprintf("%.2f", fg.rps/ng.rps)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			s, fg.rpsCell(), ng.rpsCell(), ratio, fg.latCell(), ng.latCell(),
			errCell(fg, ng, up), up.rpsCell(), notes[s])
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU cost, measured from /proc (utime+stime of the proxy's processes during the measured runs; the upstream and wrk are not counted):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | fluxgate CPU µs/request | NGINX CPU µs/request | fluxgate cores busy | NGINX cores busy |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for _, s := range order {
		fg, ng := summarize(by[s]["fluxgate"]), summarize(by[s]["nginx"])
		if fg.n+ng.n == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", s, fg.cpuPerReq(), ng.cpuPerReq(), fg.cores(), ng.cores())
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "<details><summary>Every round</summary>")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | target | round | req/s | p50 ms | p99 ms | non-2xx | socket errors | requests | CPU s |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range order {
		for _, t := range []string{"fluxgate", "nginx", "direct"} {
			for _, r := range by[s][t] {
				fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.3f | %.3f | %d | %d | %d | %.2f |\n",
					s, t, r.n, r.rps, r.p50, r.p99, r.non2xx, r.sock, r.reqs, r.cpu)
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "</details>")
	return nil
}

// summary is the mean over a target's rounds of one scenario.
type summary struct {
	n                  int
	rps, p50, p99, cpu float64
	minRPS, maxRPS     float64
	non2xx, sock, reqs int64
	secs               float64 // measured wall time, from requests / rps
}

func summarize(rs []round) summary {
	s := summary{n: len(rs), minRPS: math.Inf(1)}
	for _, r := range rs {
		s.rps += r.rps
		s.p50 += r.p50
		s.p99 += r.p99
		s.cpu += r.cpu
		s.non2xx += r.non2xx
		s.sock += r.sock
		s.reqs += r.reqs
		if r.rps > 0 {
			s.secs += float64(r.reqs) / r.rps
		}
		s.minRPS, s.maxRPS = min(s.minRPS, r.rps), max(s.maxRPS, r.rps)
	}
	if s.n > 0 {
		k := float64(s.n)
		s.rps, s.p50, s.p99 = s.rps/k, s.p50/k, s.p99/k
	}
	return s
}

func (s summary) rpsCell() string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return fmt.Sprintf("%.0f", s.rps)
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.rps, s.minRPS, s.maxRPS)
}

func (s summary) latCell() string {
	if s.n == 0 {
		return "–"
	}
	return ms(s.p50) + " / " + ms(s.p99)
}

func (s summary) cpuPerReq() string {
	if s.n == 0 || s.reqs == 0 || s.cpu == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", s.cpu/float64(s.reqs)*1e6)
}

func (s summary) cores() string {
	if s.n == 0 || s.secs == 0 || s.cpu == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", s.cpu/s.secs)
}

// ms formats milliseconds compactly: 0.412 ms, 3.10 ms, 125 ms.
func ms(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func errCell(fg, ng, up summary) string {
	var parts []string
	for _, x := range []struct {
		name string
		s    summary
	}{{"fluxgate", fg}, {"NGINX", ng}, {"direct", up}} {
		if x.s.n == 0 || x.s.non2xx+x.s.sock == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d non-2xx, %d socket", x.name, x.s.non2xx, x.s.sock))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "; ")
}

func readRounds(name string) ([]round, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []round
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 10 {
			continue
		}
		var r round
		var errs [9]error
		r.scenario, r.target = fields[0], fields[1]
		r.n, errs[0] = strconv.Atoi(fields[2])
		r.rps, errs[1] = strconv.ParseFloat(fields[3], 64)
		r.p50, errs[2] = strconv.ParseFloat(fields[4], 64)
		r.p99, errs[3] = strconv.ParseFloat(fields[5], 64)
		r.non2xx, errs[4] = strconv.ParseInt(fields[6], 10, 64)
		r.sock, errs[5] = strconv.ParseInt(fields[7], 10, 64)
		r.reqs, errs[6] = strconv.ParseInt(fields[8], 10, 64)
		r.cpu, errs[7] = strconv.ParseFloat(fields[9], 64)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// readNotes reads "scenario<TAB>note" lines; the file's order is the table's.
func readNotes(name string) (map[string]string, []string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	notes := map[string]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		s, note, _ := strings.Cut(line, "\t")
		if s == "" {
			continue
		}
		if _, dup := notes[s]; !dup {
			order = append(order, s)
		}
		notes[s] = note
	}
	return notes, order, nil
}
