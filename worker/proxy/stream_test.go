package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fluxgate/fluxgate/config"
)

const streamSize = 256 << 20

// pattern is an endless reader of a fixed byte pattern.
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return len(p), nil
}

// memWatch samples the heap while a transfer runs.
type memWatch struct {
	base     runtime.MemStats
	peakHeap atomic.Uint64
	stop     chan struct{}
	done     chan struct{}
}

func watchMemory() *memWatch {
	runtime.GC()
	w := &memWatch{stop: make(chan struct{}), done: make(chan struct{})}
	runtime.ReadMemStats(&w.base)
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > w.peakHeap.Load() {
					w.peakHeap.Store(ms.HeapInuse)
				}
			}
		}
	}()
	return w
}

// end stops sampling and returns the peak heap growth and the bytes
// allocated since the start.
func (w *memWatch) end() (peakGrowth, allocated uint64) {
	close(w.stop)
	<-w.done
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	peak := max(w.peakHeap.Load(), ms.HeapInuse)
	if peak > w.base.HeapInuse {
		peakGrowth = peak - w.base.HeapInuse
	}
	return peakGrowth, ms.TotalAlloc - w.base.TotalAlloc
}

// peakRSS returns the process's peak resident set (VmHWM) from /proc.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

// TestStream256MiB sends 256 MiB up (Content-Length) and down (chunked)
// through a real gateway server and a real upstream, and checks that
// memory stays far below the body size.
func TestStream256MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB transfer")
	}
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/up":
			n, err := io.Copy(io.Discard, ctx.RequestBodyStream())
			if err != nil {
				ctx.SetStatusCode(500)
			}
			ctx.SetBodyString(strconv.FormatInt(n, 10))
		case "/down":
			ctx.SetBodyStream(io.LimitReader(pattern{}, streamSize), -1)
		}
	})
	u := newUpstream(t, upstreamConfig(up.addr, func(up *config.Upstream) { up.TimeoutMS = 10000 }), Options{})
	g := startGateway(t, u, gatewayConfig{})

	w := watchMemory()
	start := time.Now()

	// Up: 256 MiB with Content-Length.
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", streamSize)
	if n, err := io.Copy(c, io.LimitReader(pattern{}, streamSize)); err != nil || n != streamSize {
		t.Fatalf("upload wrote %d bytes: %v", n, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != strconv.Itoa(streamSize) {
		t.Fatalf("upload: status %d, upstream counted %q; want %d", resp.StatusCode, got, streamSize)
	}
	up1 := time.Since(start)

	// Down: 256 MiB chunked, on the same client connection.
	fmt.Fprintf(c, "GET /down HTTP/1.1\r\nHost: gw\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != streamSize || resp.StatusCode != 200 {
		t.Fatalf("download: status %d, %d bytes, %v; want 200 %d", resp.StatusCode, n, err, streamSize)
	}
	took := time.Since(start)

	peak, allocated := w.end()
	t.Logf("up %v, down %v; heap in use grew at most %d KiB; %d KiB allocated in all; peak RSS of the test process %s",
		up1, took-up1, peak>>10, allocated>>10, peakRSS())
	if peak > 32<<20 {
		t.Errorf("heap grew by %d MiB during a 2×256 MiB transfer; want < 32 MiB", peak>>20)
	}
	if allocated > 64<<20 {
		t.Errorf("%d MiB allocated during a 2×256 MiB transfer; want < 64 MiB", allocated>>20)
	}
	// fasthttp closes the response body stream (pooling the connection)
	// just after writing the last chunk.
	waitFor(t, "the upstream connection back in the pool", func() bool { return u.pool.idleCount() == 1 })
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections; want 1 (reused)", n)
	}
}

// TestStreamEventsPassedOnAtOnce: a chunked response whose upstream sends
// one event and then waits for the client to have received it (server-sent
// events, long polls) is passed on event by event: the proxy writes what
// the upstream has sent as soon as nothing more is buffered, never waiting
// for more data to fill a write.
func TestStreamEventsPassedOnAtOnce(t *testing.T) {
	received := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/event-stream")
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				_ = w.Flush()
				select {
				case <-received: // the client has this event
				case <-time.After(10 * time.Second):
					return // the proxy held the event back: the test fails below
				}
			}
		})
	})
	u := newUpstream(t, upstreamConfig(up.addr, nil), Options{})
	g := startGateway(t, u, gatewayConfig{})
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, _ = io.WriteString(c, "GET /events HTTP/1.1\r\nHost: gw\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("data: event %d\n", i); err != nil || line != want {
			t.Fatalf("event %d: %q, %v; want %q at once", i, line, err, want)
		}
		if blank, _ := br.ReadString('\n'); blank != "\n" {
			t.Fatalf("event %d: separator %q", i, blank)
		}
		received <- struct{}{}
	}
}
