package ratelimit

import (
	"fmt"
	"math/bits"
	"sync/atomic"
)

// Layout of the local table (all words little-endian uint64, the native
// order; the region is shared by processes of one host only):
//
//	word 0       magic (tableMagic), set by the first process that maps it
//	word 1       number of buckets, set likewise (a power of two)
//	word 2       evictions (live slots overwritten because a bucket was full)
//	words 3–7    reserved
//	then         buckets of slotsPerBucket words (one 64-byte cache line)
//
// A slot is tag<<tatBits | TAT, TAT in microseconds of CLOCK_MONOTONIC
// (48 bits: 8.9 years of uptime). A slot whose TAT ≤ now is free; an
// all-zero region is therefore a valid empty table.
const (
	tableMagic     = 0x31306c7278756c66 // "flux" "rl01" in little-endian bytes
	headerWords    = 8
	slotsPerBucket = 8
	tatBits        = 48
	tatMask        = 1<<tatBits - 1
	wordEvictions  = 2

	// MinTableBytes is the smallest usable local table: a header and one
	// bucket.
	MinTableBytes = (headerWords + slotsPerBucket) * 8

	// DefaultTableBytes is the size the supervisor should give the host
	// table: 16 MiB is 262144 buckets, about 2 million slots, enough for
	// about a million active keys.
	DefaultTableBytes = 16 << 20
)

// table is the local GCRA store. Its methods are safe for concurrent use by
// any number of goroutines and processes mapping the same words.
type table struct {
	words []uint64
	mask  uint64 // buckets - 1
}

// newTable lays a table over words, checking or claiming the header.
func newTable(words []uint64) (*table, error) {
	if len(words) < headerWords+slotsPerBucket {
		return nil, fmt.Errorf("%d bytes, need at least %d: %w", len(words)*8, MinTableBytes, ErrTable)
	}
	n := uint64(len(words)-headerWords) / slotsPerBucket
	n = 1 << (63 - bits.LeadingZeros64(n)) // round down to a power of two
	if !atomic.CompareAndSwapUint64(&words[0], 0, tableMagic) && atomic.LoadUint64(&words[0]) != tableMagic {
		return nil, fmt.Errorf("unknown layout %#x: %w", atomic.LoadUint64(&words[0]), ErrTable)
	}
	if !atomic.CompareAndSwapUint64(&words[1], 0, n) && atomic.LoadUint64(&words[1]) != n {
		return nil, fmt.Errorf("%d buckets, laid out with %d: %w", n, atomic.LoadUint64(&words[1]), ErrTable)
	}
	return &table{words: words[:headerWords+n*slotsPerBucket], mask: n - 1}, nil
}

// evictions reports how many live slots were overwritten so far.
func (t *table) evictions() uint64 { return atomic.LoadUint64(&t.words[wordEvictions]) }

// take runs one GCRA decision for the key hashed to h at time now (µs),
// with emission interval emit and tolerance capacity×emit = limit (µs).
// It returns whether the request is admitted, the time until the bucket is
// full again (reset) and, on refusal, until one token is available (retry).
func (t *table) take(h uint64, now, emit, limit int64) (ok bool, reset, retry int64) {
	tag := h >> tatBits
	bucket := t.bucket(h)
	for {
		idx, old, mine, evict := findSlot(bucket, tag, now)
		tat := now
		if cur := int64(old & tatMask); mine && cur > now {
			tat = cur
		}
		next := tat + emit
		if next-now > limit {
			return false, tat - now, next - now - limit
		}
		if atomic.CompareAndSwapUint64(&bucket[idx], old, tag<<tatBits|uint64(next)&tatMask) {
			if evict {
				atomic.AddUint64(&t.words[wordEvictions], 1)
			}
			return true, next - now, 0
		}
	}
}

// raise makes the TAT of the key hashed to h at least tat (µs): the state
// another store (Redis) reported for the key, so that a local decision
// taken later continues that bucket instead of starting a full one. It
// never lowers a TAT, and records nothing for a full bucket (tat ≤ now).
func (t *table) raise(h uint64, now, tat int64) {
	if tat <= now {
		return
	}
	tag := h >> tatBits
	bucket := t.bucket(h)
	for {
		idx, old, mine, evict := findSlot(bucket, tag, now)
		if mine && int64(old&tatMask) >= tat {
			return
		}
		if atomic.CompareAndSwapUint64(&bucket[idx], old, tag<<tatBits|uint64(tat)&tatMask) {
			if evict {
				atomic.AddUint64(&t.words[wordEvictions], 1)
			}
			return
		}
	}
}

// bucket returns the slots of the bucket of the key hashed to h.
func (t *table) bucket(h uint64) []uint64 {
	base := headerWords + (h&t.mask)*slotsPerBucket
	return t.words[base : base+slotsPerBucket : base+slotsPerBucket]
}

// findSlot picks the slot of the key tagged tag at now and returns its
// index and the value read: the key's own slot (mine), else the first free
// one, else the live slot closest to expiry (evict).
func findSlot(bucket []uint64, tag uint64, now int64) (idx int, old uint64, mine, evict bool) {
	free, victim := -1, -1
	var freeOld, victimOld uint64
	minTAT := uint64(1<<64 - 1)
	for i := range bucket {
		v := atomic.LoadUint64(&bucket[i])
		if v>>tatBits == tag {
			return i, v, true, false
		}
		if tat := v & tatMask; int64(tat) <= now {
			if free < 0 {
				free, freeOld = i, v
			}
		} else if tat < minTAT {
			minTAT, victim, victimOld = tat, i, v
		}
	}
	if free >= 0 {
		return free, freeOld, false, false
	}
	return victim, victimOld, false, true
}
