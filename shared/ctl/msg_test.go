package ctl

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

func pair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	ca, cb := NewConn(a), NewConn(b)
	t.Cleanup(func() { ca.Close(); cb.Close() })
	return ca, cb
}

func TestRoundTrip(t *testing.T) {
	a, b := pair(t)
	big := strings.Repeat("fluxgate_http_requests_total{route=\"x\"} 1\n", 10000)
	msgs := []Msg{
		{Kind: KindConfig, Config: []byte("server:\n  workers: 2\n"), Path: "c.yaml"},
		{Kind: KindReady},
		{Kind: KindStatus, Status: &Status{Ready: true, Generation: 3, Workers: 2, LastReload: "ok"}},
		{Kind: KindDrain, GraceMS: 1500},
		{Kind: KindMetrics, ID: 7, Text: big},
	}
	go func() {
		for _, m := range msgs {
			if err := a.Send(m); err != nil {
				t.Errorf("Send(%s): %v", m.Kind, err)
				return
			}
		}
		a.Close()
	}()
	for _, want := range msgs {
		got, err := b.Recv()
		if err != nil {
			t.Fatalf("Recv() error %v; want %s", err, want.Kind)
		}
		if got.Kind != want.Kind || string(got.Config) != string(want.Config) || got.Path != want.Path ||
			got.GraceMS != want.GraceMS || got.ID != want.ID || got.Text != want.Text ||
			(want.Status != nil && (got.Status == nil || *got.Status != *want.Status)) {
			t.Errorf("Recv() = %+v; want %+v", got, want)
		}
	}
	if _, err := b.Recv(); err != io.EOF {
		t.Errorf("Recv() after close = %v; want EOF", err)
	}
}

func TestRecvErrors(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		a, b := net.Pipe()
		c := NewConn(b)
		go func() { a.Write([]byte(in)); a.Close() }()
		_, err := c.Recv()
		if !errors.Is(err, want) {
			t.Errorf("Recv(%q) = %v; want %v", in, err, want)
		}
		c.Close()
	}
	f("not json\n", ErrBadMsg)
	f("{}\n", ErrBadMsg)
	f(`{"kind":"ready"`, io.ErrUnexpectedEOF)
	f("", io.EOF)
}
