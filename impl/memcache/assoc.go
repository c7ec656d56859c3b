package memcache

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// shard is one lock domain of the hash table (memcached's assoc with its
// item locks): the chains of the keys that hash to it, and the counters of
// the operations that ran under its mutex.
type shard struct {
	mu sync.Mutex
	// buckets are the chain heads. Invariant: len(buckets) is a power of
	// two, and every linked item whose key hashes here is on the chain of
	// bucket (hash>>32)&(len-1), exactly once.
	buckets  []ref
	count    int64 // linked items on the chains
	bytes    int64 // Invariant: bytes == sum of itemSize over the chains.
	counters shardCounters
	_        [64]byte // keeps neighbouring shards' mutexes off one cache line
}

// initialBuckets is each shard's first table size; it doubles as the shard
// fills.
const initialBuckets = 64

func (s *Store) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

func (s *Store) shardOf(hv uint64) *shard { return &s.shards[hv&s.mask] }

// find returns the item linked under key, or 0. The caller holds sh.mu.
func (s *Store) find(sh *shard, key []byte, hv uint64) ref {
	for r := sh.buckets[(hv>>32)&uint64(len(sh.buckets)-1)]; r != 0; r = s.hdr(r).hnext {
		if int(s.hdr(r).nkey) == len(key) && bytes.Equal(s.key(r), key) {
			return r
		}
	}
	return 0
}

// hashIn links r into sh's chains, doubling the table when it holds more
// than one and a half items per bucket (memcached's expansion point). The
// caller holds sh.mu.
func (s *Store) hashIn(sh *shard, r ref, hv uint64) {
	h := s.hdr(r)
	b := &sh.buckets[(hv>>32)&uint64(len(sh.buckets)-1)]
	h.hnext, *b = *b, r
	sh.count++
	sh.bytes += itemSize(int(h.nkey), int(h.nbytes))
	if sh.count > int64(len(sh.buckets))*3/2 {
		s.grow(sh)
	}
}

// grow doubles sh's table. The caller holds sh.mu.
func (s *Store) grow(sh *shard) {
	old := sh.buckets
	sh.buckets = make([]ref, 2*len(old))
	mask := uint64(len(sh.buckets) - 1)
	for _, r := range old {
		for r != 0 {
			h := s.hdr(r)
			next := h.hnext
			b := &sh.buckets[(s.hash(s.key(r))>>32)&mask]
			h.hnext, *b = *b, r
			r = next
		}
	}
}

// unhash removes r from sh's chains. The caller holds sh.mu.
func (s *Store) unhash(sh *shard, r ref, hv uint64) {
	h := s.hdr(r)
	p := &sh.buckets[(hv>>32)&uint64(len(sh.buckets)-1)]
	for *p != r {
		p = &s.hdr(*p).hnext
	}
	*p = h.hnext
	h.hnext = 0
	sh.count--
	sh.bytes -= itemSize(int(h.nkey), int(h.nbytes))
}
