package supervisor

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/fluxgate/fluxgate/shared/ctl"
)

// scrapeTimeout bounds how long a host scrape waits for the workers; a
// worker that does not answer in time contributes its last snapshot.
const scrapeTimeoutMS = 2000

// sample is one series of a Prometheus text exposition.
type sample struct {
	key string // name{labels}
	val float64
}

// snapshot is one worker's parsed metrics: comment lines (# HELP/# TYPE)
// and samples, in their order.
type snapshot struct {
	comments []string
	samples  []sample
}

// parseText parses Prometheus text format. Lines it cannot read are
// skipped: a worker's metrics never break the host scrape.
func parseText(text string) snapshot {
	var s snapshot
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			s.comments = append(s.comments, line)
		default:
			var key, rest string
			if i := strings.LastIndexByte(line, '}'); i >= 0 && strings.IndexByte(line, '{') >= 0 {
				key, rest = line[:i+1], line[i+1:]
			} else if k, r, ok := strings.Cut(line, " "); ok {
				key, rest = k, r
			} else {
				continue
			}
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				continue
			}
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				continue
			}
			s.samples = append(s.samples, sample{key, v})
		}
	}
	return s
}

// perProcess reports whether a series carries a worker label: the only
// per-process series (Go runtime, process), never summed nor retired.
func perProcess(key string) bool {
	return strings.Contains(key, `{worker="`) || strings.Contains(key, `,worker="`)
}

// monotonic reports whether a series only grows (counters, histogram and
// summary parts), so an exited worker's last value is kept in the total.
func monotonic(key string) bool {
	name, _, _ := strings.Cut(key, "{")
	for _, suf := range []string{"_total", "_count", "_sum", "_bucket"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// sum accumulates series in first-seen order.
type sum struct {
	order    []string
	vals     map[string]float64
	comments []string
	seen     map[string]bool
}

func newSum() *sum { return &sum{vals: map[string]float64{}, seen: map[string]bool{}} }

func (a *sum) add(s snapshot, withPerProcess bool) {
	for _, c := range s.comments {
		if !a.seen[c] {
			a.seen[c] = true
			a.comments = append(a.comments, c)
		}
	}
	for _, smp := range s.samples {
		if !withPerProcess && perProcess(smp.key) {
			continue
		}
		if _, ok := a.vals[smp.key]; !ok {
			a.order = append(a.order, smp.key)
		}
		a.vals[smp.key] += smp.val
	}
}

// merge adds every series of b.
func (a *sum) merge(b *sum) {
	for _, k := range b.order {
		if _, ok := a.vals[k]; !ok {
			a.order = append(a.order, k)
		}
		a.vals[k] += b.vals[k]
	}
}

// retire adds the monotonic host series of an exited worker's last snapshot.
func (a *sum) retire(s snapshot) {
	for _, smp := range s.samples {
		if monotonic(smp.key) && !perProcess(smp.key) {
			if _, ok := a.vals[smp.key]; !ok {
				a.order = append(a.order, smp.key)
			}
			a.vals[smp.key] += smp.val
		}
	}
}

// clampMonotonic keeps every counter-like host series at or above the
// value last exposed (floor, updated). Sums of floats are not associative:
// adding the workers in another order, or moving an exited worker's value
// into the retired total, can shift a histogram _sum by a rounding error,
// and Prometheus reads any decrease as a counter reset.
func (a *sum) clampMonotonic(floor map[string]float64) {
	for _, k := range a.order {
		if !monotonic(k) || perProcess(k) {
			continue
		}
		if v, ok := floor[k]; ok && a.vals[k] < v {
			a.vals[k] = v
		}
		floor[k] = a.vals[k]
	}
}

// write writes the sum in Prometheus text format, one family at a time:
// its # HELP/# TYPE lines, then all its samples, so every family is one
// contiguous group as the format requires (workers' expositions interleave
// otherwise).
func (a *sum) write(b *bytes.Buffer) {
	meta := map[string][]string{} // family → its comment lines
	types := map[string]string{}  // family → declared type
	for _, c := range a.comments {
		f := strings.Fields(c)
		if len(f) < 3 || (f[1] != "HELP" && f[1] != "TYPE") {
			continue
		}
		meta[f[2]] = append(meta[f[2]], c)
		if f[1] == "TYPE" && len(f) >= 4 {
			types[f[2]] = f[3]
		}
	}
	var order []string
	samples := map[string][]string{}
	for _, k := range a.order {
		fam := family(k, types)
		if _, ok := samples[fam]; !ok {
			order = append(order, fam)
		}
		samples[fam] = append(samples[fam], k)
	}
	for _, fam := range order {
		for _, c := range meta[fam] {
			b.WriteString(c)
			b.WriteByte('\n')
		}
		for _, k := range samples[fam] {
			b.WriteString(k)
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(a.vals[k], 'g', -1, 64))
			b.WriteByte('\n')
		}
	}
}

// family returns the metric family of a sample key: its name, or for the
// _bucket/_sum/_count series of a declared histogram or summary, the base
// name.
func family(key string, types map[string]string) string {
	name := key
	if i := strings.IndexByte(key, '{'); i >= 0 {
		name = key[:i]
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if t := types[base]; t == "histogram" || t == "summary" {
				return base
			}
		}
	}
	return name
}

// supervisorMetrics are the series only the supervisor knows.
func (s *supervisor) supervisorMetrics(b *bytes.Buffer) {
	for _, r := range []string{"ok", "invalid_config", "failed_generation"} {
		fmt.Fprintf(b, "fluxgate_config_reloads_total{result=%q} %d\n", r, s.stats.Reloads[r])
	}
	fmt.Fprintf(b, "fluxgate_jwks_fetches_total{result=\"ok\"} %d\n", s.jwks.fetchesOK.Load())
	fmt.Fprintf(b, "fluxgate_jwks_fetches_total{result=\"error\"} %d\n", s.jwks.fetchesErr.Load())
	live := 0
	if s.live != nil {
		live = s.readyCount(s.live)
	}
	fmt.Fprintf(b, "fluxgate_workers_live %d\n", live)
	fmt.Fprintf(b, "fluxgate_worker_restarts_total %d\n", s.stats.Restarts)
	fmt.Fprintf(b, "fluxgate_generation %d\n", s.status.Generation)
	b.Write(ctl.ProcessMetrics("supervisor"))
}
