package memcache

// shardCounters are the per-command counters of one shard, guarded by the
// shard's mutex; StoreStats sums them. Names follow memcached's stats.
type shardCounters struct {
	cmdGet, getHits, getMisses, getExpired, getFlushed uint64
	cmdSet, cmdTouch, touchHits, touchMisses           uint64
	deleteHits, deleteMisses                           uint64
	incrHits, incrMisses, decrHits, decrMisses         uint64
	casHits, casMisses, casBadval                      uint64
	totalItems, evictions, reclaimed                   uint64
	expiredUnfetched, evictedUnfetched                 uint64
	crawlerReclaimed                                   uint64
}

func (c *shardCounters) add(o *shardCounters) {
	c.cmdGet += o.cmdGet
	c.getHits += o.getHits
	c.getMisses += o.getMisses
	c.getExpired += o.getExpired
	c.getFlushed += o.getFlushed
	c.cmdSet += o.cmdSet
	c.cmdTouch += o.cmdTouch
	c.touchHits += o.touchHits
	c.touchMisses += o.touchMisses
	c.deleteHits += o.deleteHits
	c.deleteMisses += o.deleteMisses
	c.incrHits += o.incrHits
	c.incrMisses += o.incrMisses
	c.decrHits += o.decrHits
	c.decrMisses += o.decrMisses
	c.casHits += o.casHits
	c.casMisses += o.casMisses
	c.casBadval += o.casBadval
	c.totalItems += o.totalItems
	c.evictions += o.evictions
	c.reclaimed += o.reclaimed
	c.expiredUnfetched += o.expiredUnfetched
	c.evictedUnfetched += o.evictedUnfetched
	c.crawlerReclaimed += o.crawlerReclaimed
}

// StoreStats is a sum over the shards, each read under its own lock: a
// consistent figure per shard, not one global snapshot.
type StoreStats struct {
	shardCounters
	CurrItems int64
	Bytes     int64
	CmdFlush  uint64
}

// Stats sums the shards' counters.
func (s *Store) Stats() StoreStats {
	var st StoreStats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.add(&sh.counters)
		st.CurrItems += int64(len(sh.items))
		st.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	st.CmdFlush = s.flushCmds.Load()
	return st
}

// Evictions is the number of live items evicted to make room (stat evictions).
func (st *StoreStats) Evictions() uint64 { return st.evictions }

// ResetCounters zeroes the per-command counters (stats reset); items and
// bytes are state, not counters, and stay.
func (s *Store) ResetCounters() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.counters = shardCounters{}
		sh.mu.Unlock()
	}
	s.flushCmds.Store(0)
}

// oldestAccess is the last access time of the least recently used item over
// all shards (stat items:1:age); now when the store is empty.
func (s *Store) oldestAccess() int64 {
	oldest := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		if sh.tail != nil && sh.tail.access < oldest {
			oldest = sh.tail.access
		}
		sh.mu.Unlock()
	}
	return oldest
}

// dump calls fn with the key, value size and exptime of up to limit items (0:
// no limit), most recently used first within each shard, until fn returns
// false. It holds one shard's lock at a time.
func (s *Store) dump(limit int, fn func(key string, size int, exptime int64) bool) {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for it := sh.head; it != nil; it = it.next {
			if (limit > 0 && n >= limit) || !fn(it.key, len(it.value), it.exptime) {
				sh.mu.Unlock()
				return
			}
			n++
		}
		sh.mu.Unlock()
	}
}

// dumpMeta calls fn with every item, most recently used first within each
// shard, holding one shard's lock at a time; fn must not keep the item.
func (s *Store) dumpMeta(fn func(it *item)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for it := sh.head; it != nil; it = it.next {
			fn(it)
		}
		sh.mu.Unlock()
	}
}
