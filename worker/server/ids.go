package server

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// maxRequestIDLen bounds a client-supplied X-Request-ID that is kept.
const maxRequestIDLen = 128

// requestIDs generates request ids: a random per-process prefix and a
// counter, so ids are unique across workers and restarts without a syscall
// per request.
type requestIDs struct {
	prefix [16]byte
	seq    atomic.Uint64
}

func (r *requestIDs) init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	hex.Encode(r.prefix[:], b[:])
}

// requestID appends the request's id to dst: the client's X-Request-ID when
// it is a sane token (1–128 characters of [A-Za-z0-9._:-]), else a new one.
func (r *requestIDs) requestID(dst, client []byte) []byte {
	if validRequestID(client) {
		return append(dst, client...)
	}
	dst = append(dst, r.prefix[:]...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, r.seq.Add(1), 36)
}

func validRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > maxRequestIDLen {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
