package memcache

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxRelativeExptime is memcached's REALTIME_MAXDELTA: an exptime up to 30
// days is relative to now, a larger one is an absolute unix time.
const maxRelativeExptime = 60 * 60 * 24 * 30

// itemOverhead is what memcached adds to an item's key and value when it
// checks the item against -I, and reports as me's size: its header (48
// bytes), the key's terminator, the value's trailing "\r\n" and the CAS
// unique; client flags other than 0 add 4 more (itemTotal). So -I means what
// it means for memcached, to the byte.
const itemOverhead = 48 + 1 + 2 + 8

// itemTotal is memcached's size of an item (ITEM_ntotal).
func itemTotal(key, n int, flags uint32) int64 {
	t := int64(key) + int64(n) + itemOverhead
	if flags != 0 {
		t += 4
	}
	return t
}

// StoreConfig configures a Store. The zero value of a field selects its
// default.
type StoreConfig struct {
	// MaxBytes is the memory limit for items (memcached's -m, in bytes);
	// default 64 MiB. It is cut into pages of ItemMax bytes.
	MaxBytes int64
	// ItemMax is the largest item, key and value and overhead (memcached's
	// -I), and the slab page size; default 1 MiB.
	ItemMax int
	// Factor is the growth factor between slab classes' chunk sizes
	// (memcached's -f); default 1.25.
	Factor float64
	// MinChunk is the key and value bytes of the smallest chunk
	// (memcached's -n); default 48.
	MinChunk int
	// Shards is the number of hash shards, a power of two up to 256;
	// default 64.
	Shards int
	// Clock returns the current time; default time.Now. Expiry reads it at
	// one-second granularity, as memcached does.
	Clock func() time.Time
	// NoEvict answers a store that finds no room with out of memory
	// rather than evict a live item or move a page (memcached's -M);
	// expired items are still reclaimed.
	NoEvict bool
	// NoCAS shows clients no CAS unique (0 in gets, mg and binary replies)
	// and lets every unique match, as memcached's -C does.
	NoCAS bool
}

// Store is the cache, laid out as memcached's: items live in slab pages of
// one arena the store maps for itself, outside the Go heap, in chunks of
// the smallest class that holds them; a hash table in shards finds them.
//
// Memory limit: -m is the arena; its pages go to the classes as they need
// them, and when none is left a class evicts its least recently used item or
// takes a page from a class with older items (see alloc). So the store never
// holds more than MaxBytes of items, and the collector scans none of them.
//
// Concurrency: a key's shard mutex guards its hash chain and its items'
// contents; a class's mutex guards its LRU and free lists. A shard's mutex
// is taken before a class's; the other way round only with TryLock (see
// evictTail). Items are never read after their shard's mutex is released:
// values are copied out under it.
type Store struct {
	arena      []byte // npages pages of pageSize bytes
	alignShift uint   // chunks are aligned to 1<<alignShift bytes
	pageSize   int
	npages     int
	pagesUsed  atomic.Int64 // pages handed to classes so far; never given back
	classes    []class      // classes[1:] in increasing chunk size; classes[0] unused
	stealMu    sync.Mutex   // one page move at a time
	// moving is set while a page drains (stats: slab_reassign_running).
	moving atomic.Bool
	// crawls counts the sweeps of ReapClasses begun, crawling those under
	// way (lru_crawler_starts and lru_crawler_running: the sweep is what
	// memcached's LRU crawler does).
	crawls   atomic.Uint64
	crawling atomic.Int32
	// automove and automoveRatio are memcached's slab_automove (0: no page
	// moves by age) and slab_automove_ratio (float64 bits).
	automove      atomic.Int32
	automoveRatio atomic.Uint64
	shards        []shard
	mask          uint64 // len(shards)-1; len(shards) is a power of two
	seed          maphash.Seed
	// maxBytes is -m, or what cache_memlimit set since; limitPages the
	// pages it allows. Invariant: limitPages <= npages.
	maxBytes   atomic.Int64
	limitPages atomic.Int64
	itemMax    int
	factor     float64 // -f
	minChunk   int     // -n
	noEvict    bool    // -M: StoreConfig.NoEvict
	noCAS      bool    // -C: StoreConfig.NoCAS
	clock      func() time.Time
	started    int64         // unix seconds at NewStore (memcached's process_started)
	epoch      int64         // relative seconds count from here; see rel
	cas        atomic.Uint64 // last CAS unique handed out; items get cas.Add(1)
	flushAt    atomic.Int64  // unix second of a pending delayed flush_all; 0: none
	flushCmds  atomic.Uint64 // cmd_flush
	// onEvict, when set and logEvictions is, is called for each live item
	// evicted, under the item's shard and class mutexes; it is set before
	// the store is used (NewCache) and never changed. logEvictions is set
	// while a watcher asks for evictions, so that no eviction costs more
	// than a load otherwise.
	onEvict      func(*Evicted)
	logEvictions atomic.Bool
}

// ErrConfig reports an impossible StoreConfig.
var ErrConfig = errors.New("memcache: invalid configuration")

// NewStore returns an empty store.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.ItemMax == 0 {
		cfg.ItemMax = 1 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBytes < 0 || cfg.ItemMax < 1024 {
		return nil, fmt.Errorf("%w: memory limit %d, item size limit %d (at least 1024)", ErrConfig, cfg.MaxBytes, cfg.ItemMax)
	}
	// memcached refuses -I over half of -m for the same reason: a slab page
	// must hold at least two items.
	if int64(cfg.ItemMax) > cfg.MaxBytes/2 {
		return nil, fmt.Errorf("%w: item size limit %d is more than half the memory limit %d", ErrConfig, cfg.ItemMax, cfg.MaxBytes)
	}
	if cfg.Factor == 0 {
		cfg.Factor = 1.25
	}
	if cfg.MinChunk == 0 {
		cfg.MinChunk = 48
	}
	if cfg.Factor <= 1 || cfg.MinChunk < 1 {
		return nil, fmt.Errorf("%w: growth factor %g (more than 1), chunk size %d (at least 1)", ErrConfig, cfg.Factor, cfg.MinChunk)
	}
	if cfg.Shards == 0 {
		cfg.Shards = 64
	}
	if cfg.Shards < 1 || cfg.Shards > 256 || cfg.Shards&(cfg.Shards-1) != 0 {
		return nil, fmt.Errorf("%w: shards %d is not a power of two up to 256", ErrConfig, cfg.Shards)
	}
	s := &Store{
		shards:   make([]shard, cfg.Shards),
		mask:     uint64(cfg.Shards - 1),
		seed:     maphash.MakeSeed(),
		itemMax:  cfg.ItemMax,
		factor:   cfg.Factor,
		minChunk: cfg.MinChunk,
		clock:    cfg.Clock,
		noEvict:  cfg.NoEvict,
		noCAS:    cfg.NoCAS,
	}
	s.alignShift = minAlignShift
	for cfg.MaxBytes>>s.alignShift >= math.MaxUint32 {
		s.alignShift++
	}
	s.pageSize = cfg.ItemMax &^ (1<<s.alignShift - 1)
	s.npages = int(cfg.MaxBytes / int64(s.pageSize))
	if int64(s.npages)*int64(s.pageSize) != int64(int(int64(s.npages)*int64(s.pageSize))) {
		return nil, fmt.Errorf("%w: memory limit %d does not fit this platform's address space", ErrConfig, cfg.MaxBytes)
	}
	arena, err := mapArena(s.npages * s.pageSize)
	if err != nil {
		return nil, err
	}
	s.arena = arena
	s.maxBytes.Store(cfg.MaxBytes)
	s.limitPages.Store(int64(s.npages))
	// The arena is the store's: it goes when the store does.
	runtime.AddCleanup(s, unmapArena, arena)
	s.initClasses(cfg.Factor, cfg.MinChunk)
	s.SetAutomove(1)
	s.SetAutomoveRatio(defaultAutomoveRatio)
	s.started = s.now()
	s.epoch = s.started - 2
	for i := range s.shards {
		s.shards[i].buckets = make([]ref, initialBuckets)
	}
	return s, nil
}

// MaxBytes is the memory limit (stat limit_maxbytes).
func (s *Store) MaxBytes() int64 { return s.maxBytes.Load() }

// SetMaxBytes changes the memory limit at run time (cache_memlimit): pages
// beyond the new limit are no longer handed to classes, and those in use
// stay in use, as memcached's mem_limit works. It cannot grow past the
// arena mapped at start, which is the -m the store was made with, and
// reports false for such a limit.
func (s *Store) SetMaxBytes(n int64) bool {
	pages := n / int64(s.pageSize)
	if pages > int64(s.npages) || pages < 1 {
		return false
	}
	s.maxBytes.Store(n)
	s.limitPages.Store(pages)
	return true
}

// ItemMax is the item size limit (stat item_size_max).
func (s *Store) ItemMax() int { return s.itemMax }

// Shards is the number of hash shards.
func (s *Store) Shards() int { return len(s.shards) }

func (s *Store) now() int64 { return s.clock().Unix() }

// absExptime converts a protocol exptime to an absolute unix second as
// memcached's realtime() does: 0 never expires, a negative one has already
// expired, up to 30 days is relative to now, beyond that it is a unix time.
func (s *Store) absExptime(exptime int64, now int64) int64 {
	switch {
	case exptime == 0:
		return 0
	case exptime < 0:
		return 1
	case exptime > maxRelativeExptime:
		if exptime <= s.started {
			return 1
		}
		return exptime
	default:
		return now + exptime
	}
}

// live reports whether the item may be returned at time now: not expired
// and not hidden by a delayed flush_all whose time has come. An item's
// access is never before its store, and a lookup at or after the flush finds
// it dead before it could be accessed again, so "accessed before the flush"
// is "stored before the flush". A dead item is unlinked by whoever finds it
// (lazy expiry) or by Reap. The caller holds the item's shard mutex.
func (s *Store) live(h *header, now int64) bool {
	if h.exptime != 0 && s.abs(h.exptime) <= now {
		return false
	}
	if f := s.flushAt.Load(); f != 0 && f <= now && s.abs(h.access) < f {
		return false
	}
	return true
}

// lookup returns the live item for key, unlinking it when it is dead. The
// caller holds sh.mu.
func (s *Store) lookup(sh *shard, key []byte, hv uint64, now int64) ref {
	r := s.find(sh, key, hv)
	if r == 0 {
		return 0
	}
	if h := s.hdr(r); !s.live(h, now) {
		if h.exptime != 0 && s.abs(h.exptime) <= now {
			sh.counters.getExpired++
		} else {
			sh.counters.getFlushed++
		}
		s.unlink(sh, r, hv, hitNone)
		return 0
	}
	return r
}

// touchLRU records an access at now, counts the hit, and makes r its
// class's most recently used item; a cas other than 0 becomes the item's CAS
// unique. The access
// second and the CAS unique of a linked item are written holding both its
// shard's and its class's mutexes, so either one lets them be read. The
// caller holds r's shard mutex.
func (s *Store) touchLRU(r ref, now int64, cas uint64, k hit) {
	h := s.hdr(r)
	c := &s.classes[h.class]
	c.mu.Lock()
	h.access = s.rel(now)
	c.mayExpire = c.mayExpire || h.exptime != 0
	c.counters.hits[k]++
	if cas != 0 {
		h.cas = cas
	}
	if c.head != r {
		s.lruRemove(c, r)
		s.lruPush(c, r)
	} else if c.tail == r {
		c.tailAge.Store(now)
	}
	c.mu.Unlock()
}

// unlink removes r from its shard's hash and its class's LRU, counts the
// hit, and frees its chunk. The caller holds sh.mu.
func (s *Store) unlink(sh *shard, r ref, hv uint64, k hit) {
	c := &s.classes[s.hdr(r).class]
	c.mu.Lock()
	c.counters.hits[k]++
	s.drop(c, sh, r, hv)
	s.free(c, r)
	c.mu.Unlock()
}

// link makes r, written by its owner since alloc, the item for its key,
// replacing old (0: none), and counts the hit in r's class. The caller holds
// sh.mu.
func (s *Store) link(sh *shard, old, r ref, hv uint64, k hit) {
	if old != 0 {
		s.unlink(sh, old, hv, hitNone)
	}
	s.hashIn(sh, r, hv)
	sh.counters.totalItems++
	h := s.hdr(r)
	c := &s.classes[h.class]
	c.mu.Lock()
	h.state = stateLinked
	c.mayExpire = c.mayExpire || h.exptime != 0
	c.counters.hits[k]++
	s.lruPush(c, r)
	c.items++
	c.requested += itemSize(int(h.nkey), int(h.nbytes))
	c.mu.Unlock()
}

// release frees a chunk its owner will not link, counting the hit k.
func (s *Store) release(r ref, k hit) {
	c := &s.classes[s.hdr(r).class]
	c.mu.Lock()
	c.counters.hits[k]++
	s.free(c, r)
	c.mu.Unlock()
}

// newItem allocates and writes an item for key with room for an n-byte
// value, which the caller then writes into s.value(r); 0 when the value
// fits no class (TooLarge) or no memory is found (NoMemory).
func (s *Store) newItem(key []byte, n int, flags uint32, exptime, now int64) (ref, Result) {
	c := s.classFor(headerSize + len(key) + n)
	if c == nil {
		return 0, TooLarge
	}
	r := s.alloc(c, now)
	if r == 0 {
		return 0, NoMemory
	}
	h := s.hdr(r)
	h.nkey, h.nbytes, h.flags = uint8(len(key)), uint32(n), flags
	h.exptime, h.access = s.relExptime(exptime), s.rel(now)
	// A chunk freed and taken again keeps the last item's marks: a new
	// item is unfetched, holds no token and is not stale.
	h.bits = 0
	copy(s.arena[s.offset(r)+headerSize:], key)
	return r, Stored
}

// reapBatch bounds the items Reap examines per lock hold, so a sweep of a
// large class delays the class's other users by microseconds, not
// milliseconds.
const reapBatch = 512

// Reap removes every expired or flushed item, one class and one batch at a
// time, from the least recently used up, and returns how many it removed.
// The server calls it periodically so that items nobody asks for again
// still give their memory back; lookups expire items lazily in between.
//
// Between batches the lock is released; the sweep resumes from the last live
// item it passed. If that item was removed or replaced meanwhile, the sweep
// of that class ends early and the next call covers the rest. An item whose
// shard is busy is passed over.
func (s *Store) Reap() int { return s.ReapClasses(nil) }

// ReapClasses is Reap over the classes cls only (nil: every class); an id
// that names no class is passed over.
func (s *Store) ReapClasses(cls []int) int {
	s.crawls.Add(1)
	s.crawling.Add(1)
	defer s.crawling.Add(-1)
	now := s.now()
	flushing := s.flushAt.Load() != 0
	n := 0
	for i := 1; i < len(s.classes); i++ {
		if cls == nil || slices.Contains(cls, i) {
			n += s.reapClass(&s.classes[i], now, flushing)
		}
	}
	return n
}

// reapClass is Reap's sweep of one class.
func (s *Store) reapClass(c *class, now int64, flushing bool) int {
	c.mu.Lock()
	skip := !c.mayExpire && !flushing
	c.mu.Unlock()
	if skip {
		return 0
	}
	n := 0
	var resume ref // last item passed; 0: start at the tail
	var resumeCAS uint64
	sawExptime := false
	for {
		c.mu.Lock()
		r := c.tail
		if resume != 0 {
			if h := s.hdr(resume); h.state != stateLinked || h.class != c.id || h.cas != resumeCAS {
				c.mu.Unlock()
				return n
			}
			r = s.hdr(resume).prev
		}
		for k := 0; r != 0 && k < reapBatch; k++ {
			h := s.hdr(r)
			prev := h.prev
			removed, exp := s.reapOne(c, r, now)
			sawExptime = sawExptime || exp
			if removed {
				n++
			} else {
				resume, resumeCAS = r, h.cas
			}
			r = prev
		}
		if r == 0 {
			// A whole pass that saw no exptime: until one is linked or
			// touched, nothing here can expire.
			if !sawExptime {
				c.mayExpire = false
			}
			c.mu.Unlock()
			return n
		}
		c.mu.Unlock()
	}
}

// reapOne unlinks r if it is dead and its shard's mutex is free; it also
// reports whether r has an exptime (true when the shard was busy, since it
// could not look). The caller holds c.mu.
func (s *Store) reapOne(c *class, r ref, now int64) (removed, exptime bool) {
	c.counters.crawlerChecked++
	hv := s.hash(s.key(r))
	sh := s.shardOf(hv)
	if !sh.mu.TryLock() {
		return false, true
	}
	defer sh.mu.Unlock()
	h := s.hdr(r)
	if s.live(h, now) {
		return false, h.exptime != 0
	}
	if h.bits&bitFetched == 0 {
		c.counters.expiredUnfetched++
	}
	c.counters.crawlerReclaimed++
	s.drop(c, sh, r, hv)
	s.free(c, r)
	return true, true
}
