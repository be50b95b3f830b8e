package ctl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// MaxMsgBytes bounds one encoded message (metrics text included).
const MaxMsgBytes = 64 << 20

// Kind names a control message.
type Kind string

// Message kinds. The direction is part of the contract.
const (
	// KindConfig (supervisor → worker, first message): Config and Path are
	// the config bytes the supervisor validated and their file name.
	KindConfig Kind = "config"
	// KindReady (worker → supervisor): the server is built and serving.
	KindReady Kind = "ready"
	// KindFailed (worker → supervisor): the worker cannot serve (Err says
	// why) and exits.
	KindFailed Kind = "failed"
	// KindStatus (supervisor → worker): Status is the new host status.
	KindStatus Kind = "status"
	// KindDrain (supervisor → worker): drain within GraceMS, then exit.
	KindDrain Kind = "drain"
	// KindStop (supervisor → worker): stop at once and exit.
	KindStop Kind = "stop"
	// KindMetricsRequest (either direction): ask for metrics text; ID
	// matches the reply.
	KindMetricsRequest Kind = "metrics_request"
	// KindMetrics (either direction): Text answers the request ID.
	KindMetrics Kind = "metrics"
	// KindJWKSRequest (worker → supervisor): fetch the JSON Web Key Set at
	// URL through the host's shared cache; Force asks for a fresh copy (an
	// unknown kid), which the supervisor grants at most once per floor
	// interval. ID matches the reply.
	KindJWKSRequest Kind = "jwks_request"
	// KindJWKS (supervisor → worker): Text is the key set document for the
	// request ID, fresh for MaxAgeMS; Err is set when none could be had.
	KindJWKS Kind = "jwks"
)

// Msg is one control message. Fields beyond Kind are used as documented on
// each Kind.
type Msg struct {
	Kind    Kind    `json:"kind"`
	Config  []byte  `json:"config,omitempty"`
	Path    string  `json:"path,omitempty"`
	Status  *Status `json:"status,omitempty"`
	Err     string  `json:"err,omitempty"`
	GraceMS int64   `json:"grace_ms,omitempty"`
	ID      uint64  `json:"id,omitempty"`
	Text    string  `json:"text,omitempty"`
	// URL, Force and MaxAgeMS serve the JWKS messages.
	URL      string `json:"url,omitempty"`
	Force    bool   `json:"force,omitempty"`
	MaxAgeMS int64  `json:"max_age_ms,omitempty"`
}

// deadliner is implemented by net.Conn.
type deadliner interface {
	SetWriteDeadline(t time.Time) error
}

// Conn is one end of a control channel. Send is safe for concurrent use;
// Recv must be called from a single goroutine.
type Conn struct {
	rwc io.ReadWriteCloser
	r   *bufio.Reader

	mu sync.Mutex // serialises Send
}

// SendTimeout bounds one Send when the transport supports write deadlines,
// so a stuck peer never blocks its sender for ever.
const SendTimeout = 5 * time.Second

// NewConn wraps rwc (usually a *net.UnixConn).
func NewConn(rwc io.ReadWriteCloser) *Conn {
	return &Conn{rwc: rwc, r: bufio.NewReaderSize(rwc, 64<<10)}
}

// Send writes m as one line.
func (c *Conn) Send(m Msg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("ctl: encode %s: %w", m.Kind, err)
	}
	if len(b) >= MaxMsgBytes {
		return fmt.Errorf("ctl: send %s: %w", m.Kind, ErrMsgTooLarge)
	}
	b = append(b, '\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.rwc.(deadliner); ok {
		_ = d.SetWriteDeadline(time.Now().Add(SendTimeout))
	}
	if _, err := c.rwc.Write(b); err != nil {
		return fmt.Errorf("ctl: send %s: %w", m.Kind, err)
	}
	return nil
}

// Recv reads the next message. It returns io.EOF when the peer closed the
// channel between messages.
func (c *Conn) Recv() (Msg, error) {
	var line []byte
	for {
		chunk, err := c.r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxMsgBytes {
			return Msg{}, ErrMsgTooLarge
		}
		line = append(line, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Msg{}, err
		}
		break
	}
	var m Msg
	if err := json.Unmarshal(line, &m); err != nil || m.Kind == "" {
		return Msg{}, fmt.Errorf("%w: %.80q", ErrBadMsg, line)
	}
	return m, nil
}

// Close closes the channel; a Recv in progress on either end returns.
func (c *Conn) Close() error { return c.rwc.Close() }
