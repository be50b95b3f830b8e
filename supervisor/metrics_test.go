package supervisor

import (
	"bytes"
	"testing"
)

func TestSumSnapshots(t *testing.T) {
	w1 := parseText(`# TYPE fluxgate_http_requests_total counter
fluxgate_http_requests_total{route="a b",method="GET",status="200"} 3
fluxgate_inflight_requests 2
go_goroutines{worker="0"} 10
bad line
`)
	w2 := parseText(`fluxgate_http_requests_total{route="a b",method="GET",status="200"} 4
fluxgate_request_duration_seconds_bucket{le="0.1"} 5
fluxgate_inflight_requests 1
go_goroutines{worker="1"} 12
`)
	gone := parseText(`fluxgate_http_requests_total{route="a b",method="GET",status="200"} 100
fluxgate_inflight_requests 7
go_goroutines{worker="0"} 9
`)
	a := newSum()
	a.retire(gone)
	a.add(w1, true)
	a.add(w2, false) // a draining worker: its per-process series are left out
	var b bytes.Buffer
	a.write(&b)
	want := `# TYPE fluxgate_http_requests_total counter
fluxgate_http_requests_total{route="a b",method="GET",status="200"} 107
fluxgate_inflight_requests 3
go_goroutines{worker="0"} 10
fluxgate_request_duration_seconds_bucket{le="0.1"} 5
`
	if b.String() != want {
		t.Errorf("sum =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestSumWriteGroupsFamilies: series of one family from several workers
// come out as one contiguous group under its HELP/TYPE lines, histogram
// series (_bucket, _sum, _count) included.
func TestSumWriteGroupsFamilies(t *testing.T) {
	a := newSum()
	a.add(parseText("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n# TYPE c counter\nc{x=\"a\"} 2\n"), false)
	a.add(parseText("# TYPE c counter\nc{x=\"b\"} 3\n# TYPE h histogram\nh_bucket{le=\"1\"} 4\nh_sum 0.5\nh_count 4\n"), false)
	var b bytes.Buffer
	a.write(&b)
	want := "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_count 5\nh_sum 0.5\n# TYPE c counter\nc{x=\"a\"} 2\nc{x=\"b\"} 3\n"
	if b.String() != want {
		t.Errorf("write =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestClampMonotonic: a counter-like series never goes below what was
// exposed before (a float sum in another order may round lower); other
// series follow their value.
func TestClampMonotonic(t *testing.T) {
	floor := map[string]float64{}
	scrape := func(text string) string {
		a := newSum()
		a.add(parseText(text), true)
		a.clampMonotonic(floor)
		var b bytes.Buffer
		a.write(&b)
		return b.String()
	}
	scrape("h_sum 0.3107367010000001\nreq_total 5\ninflight 3\n")
	got := scrape("h_sum 0.31073670100000006\nreq_total 4\ninflight 1\n")
	want := "h_sum 0.3107367010000001\nreq_total 5\ninflight 1\n"
	if got != want {
		t.Errorf("second scrape =\n%s\nwant\n%s", got, want)
	}
}
