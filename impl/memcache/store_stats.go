package memcache

// shardCounters are the per-command counters of one shard, guarded by the
// shard's mutex; StoreStats sums them. Names follow memcached's stats.
type shardCounters struct {
	cmdGet, getHits, getMisses, getExpired, getFlushed uint64
	cmdSet, cmdTouch, touchHits, touchMisses           uint64
	deleteHits, deleteMisses                           uint64
	incrHits, incrMisses, decrHits, decrMisses         uint64
	casHits, casMisses, casBadval                      uint64
	totalItems                                         uint64
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
}

// StoreStats is a sum over the shards and the classes, each read under its
// own lock: a consistent figure per shard, not one global snapshot.
type StoreStats struct {
	shardCounters
	classCounters
	CurrItems int64
	Bytes     int64 // bytes the items take in their chunks
	CmdFlush  uint64
	// Pages is the slab pages handed to classes (total_malloced, in pages).
	Pages int64
	// Buckets is the hash table's chain heads over every shard.
	Buckets int64
	// Crawls is the Reap sweeps begun, Crawling those under way; Moving
	// says a page is draining.
	Crawls   uint64
	Crawling bool
	Moving   bool
}

// Stats sums the shards' and classes' counters.
func (s *Store) Stats() StoreStats {
	var st StoreStats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.shardCounters.add(&sh.counters)
		st.CurrItems += sh.count
		st.Bytes += sh.bytes
		st.Buckets += int64(len(sh.buckets))
		sh.mu.Unlock()
	}
	for i := 1; i < len(s.classes); i++ {
		c := &s.classes[i]
		c.mu.Lock()
		st.classCounters.add(&c.counters)
		c.mu.Unlock()
	}
	st.CmdFlush = s.flushCmds.Load()
	st.Pages = s.pagesUsed.Load()
	st.Crawls = s.crawls.Load()
	st.Crawling = s.crawling.Load() > 0
	st.Moving = s.moving.Load()
	return st
}

func (c *classCounters) add(o *classCounters) {
	c.evictions += o.evictions
	c.evictedUnfetched += o.evictedUnfetched
	c.evictedNonzero += o.evictedNonzero
	c.reclaimed += o.reclaimed
	c.expiredUnfetched += o.expiredUnfetched
	c.crawlerReclaimed += o.crawlerReclaimed
	c.outOfMemory += o.outOfMemory
	c.reassigned += o.reassigned
	c.crawlerChecked += o.crawlerChecked
	c.moveEvicted += o.moveEvicted
	c.moveBusy += o.moveBusy
	c.evictedTime = max(c.evictedTime, o.evictedTime)
	for i := range c.hits {
		c.hits[i] += o.hits[i]
	}
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
	for i := 1; i < len(s.classes); i++ {
		c := &s.classes[i]
		c.mu.Lock()
		c.counters = classCounters{}
		c.mu.Unlock()
	}
	s.flushCmds.Store(0)
	s.crawls.Store(0)
}

// ItemMeta is what the store says about an item without its value.
type ItemMeta struct {
	Key     []byte // aliases the store: valid only during the callback
	Size    int    // value bytes
	Flags   uint32
	Exptime int64 // unix seconds; 0: never
	Access  int64 // unix second of the last access
	CAS     uint64
	Fetched bool
	Class   int
}

// dump calls fn with every live item of class cls (0: of every class), most
// recently used first within a class, until fn returns false. It holds one class's and
// one shard's mutex at a time, so a class is read in batches: an item
// linked or moved during the walk may be seen twice or not at all, as
// memcached's crawler may.
func (s *Store) dump(cls int, fn func(m *ItemMeta) bool) {
	now := s.now()
	var keys [][]byte
	for i := 1; i < len(s.classes); i++ {
		if cls != 0 && i != cls {
			continue
		}
		c := &s.classes[i]
		// Copy the keys under the class mutex, then read each item under
		// its shard's: the order of the locks is shard, then class.
		keys = keys[:0]
		c.mu.Lock()
		for r := c.head; r != 0; r = s.hdr(r).next {
			keys = append(keys, append([]byte(nil), s.key(r)...))
		}
		c.mu.Unlock()
		for _, k := range keys {
			hv := s.hash(k)
			sh := s.shardOf(hv)
			sh.mu.Lock()
			r := s.find(sh, k, hv)
			var m ItemMeta
			ok := r != 0 && s.live(s.hdr(r), now)
			if ok {
				h := s.hdr(r)
				m = ItemMeta{Key: k, Size: int(h.nbytes), Flags: h.flags, Exptime: s.abs(h.exptime), Access: s.abs(h.access), CAS: s.shownCAS(h.cas), Fetched: h.bits&bitFetched != 0, Class: int(h.class)}
			}
			sh.mu.Unlock()
			if ok && !fn(&m) {
				return
			}
		}
	}
}

// ClassStats is one slab class as stats slabs and stats items report it.
type ClassStats struct {
	ID, ChunkSize, PerPage, Pages int
	Used, Free, FreeEnd           int // chunks linked, on the free list, never carved
	Requested                     int64
	TailAccess                    int64 // unix second; 0: no items
	classCounters
}

// Classes returns the classes that own a page, in order, each read under
// its own mutex.
func (s *Store) Classes() []ClassStats {
	var out []ClassStats
	for i := 1; i < len(s.classes); i++ {
		c := &s.classes[i]
		c.mu.Lock()
		cs := ClassStats{ID: i, ChunkSize: c.size, PerPage: c.perPage, Pages: len(c.pages),
			Used: c.items, Free: c.nfree, Requested: c.requested, classCounters: c.counters}
		if c.bump >= 0 {
			cs.FreeEnd = c.perPage - c.bumpNext
		}
		cs.FreeEnd += len(c.spare) * c.perPage
		if c.tail != 0 {
			cs.TailAccess = s.abs(s.hdr(c.tail).access)
		}
		c.mu.Unlock()
		if cs.Pages > 0 {
			out = append(out, cs)
		}
	}
	return out
}
