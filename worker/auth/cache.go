package auth

import (
	"hash/maphash"
	"sync"
)

const (
	// defaultCacheSize is the number of verified tokens kept per Verifier
	// when Options.CacheSize is 0.
	defaultCacheSize = 10000
	// cacheShards spreads lock contention; a power of two.
	cacheShards = 32
	// evictProbes bounds the entries looked at to find an expired victim.
	evictProbes = 8
)

// entry is one verified token. Immutable once stored.
type entry struct {
	token string
	id    *Identity
	// key is the JWKS key that verified the token (nil for a static key);
	// the entry counts only while the current key set still resolves
	// (kid, hasKID) to it.
	key    *jwk
	kid    string
	hasKID bool
}

// cache is a bounded map of verified tokens, sharded by a hash of the token.
// A full shard evicts an expired entry among a few probed, else an
// arbitrary one (Go map iteration order is randomised). Entries are
// confirmed against the whole token, so a hash collision is only a miss.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*entry
	_  [40]byte // keep shards on separate cache lines
}

// newCache returns a cache of about size entries, or nil for size < 0.
func newCache(size int) *cache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = defaultCacheSize
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: (size + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*entry)
	}
	return c
}

func (c *cache) hash(token []byte) uint64 { return maphash.Bytes(c.seed, token) }

// get returns the entry for token, or nil.
func (c *cache) get(h uint64, token []byte) *entry {
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.token != string(token) {
		return nil
	}
	return e
}

// put stores e under h; nowUnix drives the choice of an expired victim.
func (c *cache) put(h uint64, e *entry, nowUnix int64) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		s.evictLocked(nowUnix)
	}
	s.m[h] = e
}

// drop removes the entry stored under h if it is still e.
func (c *cache) drop(h uint64, e *entry) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if s.m[h] == e {
		delete(s.m, h)
	}
	s.mu.Unlock()
}

// evictLocked frees at least one slot: expired entries among the first few
// probed, else the first one probed.
func (s *cacheShard) evictLocked(nowUnix int64) {
	var victim uint64
	found, probes := false, 0
	for h, e := range s.m {
		if e.id.expLimit <= nowUnix {
			delete(s.m, h)
			found = true
		} else if !found && probes == 0 {
			victim = h
		}
		probes++
		if probes >= evictProbes {
			break
		}
	}
	if !found {
		delete(s.m, victim)
	}
}

// len reports the number of entries (tests).
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
