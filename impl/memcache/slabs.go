package memcache

import (
	"math"
	"sync"
	"sync/atomic"
)

// maxClasses is memcached's limit on slab classes (MAX_NUMBER_OF_SLAB_CLASSES
// less the unused class 0).
const maxClasses = 63

// class is one slab class: chunks of one size, carved from the pages it
// owns, with a free list and an LRU list of its linked items.
//
// Memory: the arena is cut into pages of the item size limit (-I), as
// memcached's slab_page_size; a page belongs to at most one class at a time.
// A class takes pages from the unused ones until none is left, and then
// makes room by evicting its least recently used item, or by taking a page
// from the class whose oldest item is older than its own (see steal).
type class struct {
	mu      sync.Mutex
	id      uint8
	size    int // chunk size, a multiple of the store's alignment
	perPage int // chunks per page
	// free is the head of the free list, linked through prev and next.
	free  ref
	nfree int // Invariant: nfree == length of the free list.
	// head is the most recently used linked item, tail the least.
	head, tail ref
	items      int   // Invariant: items == length of the LRU list.
	requested  int64 // sum of itemSize over the LRU list (mem_requested)
	pages      []int // pages owned, including bump and spare
	spare      []int // owned pages not yet carved
	// bump is the page being carved: its chunks from bumpNext on were never
	// handed out. -1: none.
	bump     int
	bumpNext int
	// draining is the page being taken away (-1: none): its chunks are not
	// handed out and a freed one is not put on the free list.
	draining int
	// mayExpire is set when an item with an exptime is linked or touched,
	// and cleared by a Reap pass that found none: Reap skips a class
	// whose items cannot expire (unless a flush_all is pending).
	mayExpire bool
	counters  classCounters
	// tailAge is the access second of the tail, math.MinInt64 when the LRU
	// is empty: steal reads it without the lock.
	tailAge atomic.Int64
	// npages is len(pages), for steal to read without the lock.
	npages atomic.Int64
	_      [64]byte
}

// classCounters are one class's counters (memcached's itemstats), guarded
// by its mutex.
type classCounters struct {
	evictions, evictedUnfetched, evictedNonzero   uint64
	reclaimed, expiredUnfetched, crawlerReclaimed uint64
	outOfMemory, reassigned                       uint64
	// crawlerChecked counts the items Reap examined; moveEvicted the live
	// items evicted because their page moved, moveBusy the chunks a move
	// found handed out and unlinked, and waited for (memcached's
	// crawler_items_checked, slab_reassign_evictions_nomem and
	// slab_reassign_busy_items).
	crawlerChecked, moveEvicted, moveBusy uint64
	evictedTime                           int64 // age of the last evicted item, seconds
	// hits counts the commands that found an item of the class, by kind
	// (memcached's per-class slab_stats).
	hits [numHits]uint64
}

// hit is a kind of command counted per class in stats slabs.
type hit uint8

const (
	hitNone hit = iota
	hitGet
	hitSet
	hitDelete
	hitIncr
	hitDecr
	hitCAS
	hitCASBadval
	hitTouch
	numHits
)

// hitNames are the stats slabs names of the hit kinds.
var hitNames = [numHits]string{"", "get_hits", "cmd_set", "delete_hits", "incr_hits", "decr_hits", "cas_hits", "cas_badval", "touch_hits"}

// initClasses sizes the classes as memcached's slabs_init does: the first
// chunk holds a header and minChunk bytes of key and value, each next one
// is factor times larger, aligned, until factor times the next would pass
// the page; the last class is one chunk per page.
func (s *Store) initClasses(factor float64, minChunk int) {
	align := 1 << s.alignShift
	s.classes = make([]class, 1, maxClasses+1) // class 0 is unused, as memcached's
	size := float64(headerSize + minChunk)
	for len(s.classes) < maxClasses && size < float64(s.pageSize)/factor {
		n := (int(size) + align - 1) &^ (align - 1)
		if n >= s.pageSize {
			break
		}
		s.classes = append(s.classes, class{size: n})
		size = float64(n) * factor
	}
	s.classes = append(s.classes, class{size: s.pageSize})
	for i := range s.classes {
		c := &s.classes[i]
		c.id = uint8(i)
		if c.size > 0 {
			c.perPage = s.pageSize / c.size
		}
		c.bump, c.draining = -1, -1
		c.tailAge.Store(math.MinInt64)
	}
}

// classOf is the id of the class an item of this key and value length goes
// in, 0 if none holds it.
func (s *Store) classOf(key, n int) int {
	if c := s.classFor(headerSize + key + n); c != nil {
		return int(c.id)
	}
	return 0
}

// Evicted describes a live item evicted to make room, for the eviction
// log: Key aliases the store and is valid only during the call, TTL is the
// seconds it had left (-1: no expiry), Idle the seconds since its last
// access.
type Evicted struct {
	Key       []byte
	Fetched   bool
	TTL, Idle int64
	Class     int
	Size      int
}

// classFor returns the smallest class whose chunk holds n bytes, nil if
// none does.
func (s *Store) classFor(n int) *class {
	lo, hi := 1, len(s.classes)
	for lo < hi {
		m := (lo + hi) / 2
		if s.classes[m].size < n {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(s.classes) {
		return nil
	}
	return &s.classes[lo]
}

func (s *Store) pageOf(r ref) int { return s.offset(r) / s.pageSize }

// allocTries bounds alloc's rounds of taking, evicting and stealing.
const allocTries = 4

// alloc returns a chunk of class c in stateAlloc, owned by the caller until
// it links or frees it, or 0 when no memory can be found (memcached's
// outofmemory). The caller holds no lock: alloc may wait for a shard's
// mutex while it takes a page from another class.
func (s *Store) alloc(c *class, now int64) ref {
	for try := range allocTries {
		c.mu.Lock()
		r := s.takeChunk(c)
		if r == 0 && s.grantPage(c) {
			r = s.takeChunk(c)
		}
		// With the arena used up, the first round evicts in c only if no
		// other class holds older items; later rounds evict regardless.
		var busy ref
		var busyCAS, busyHash uint64
		if r == 0 && c.items > 0 && (try > 0 || !s.olderElsewhere(c, now)) {
			r, busy, busyHash = s.evictTail(c, now)
			if busy != 0 {
				busyCAS = s.hdr(busy).cas
			}
		}
		c.mu.Unlock()
		if r == 0 && busy != 0 {
			r = s.evictWaiting(c, busy, busyCAS, busyHash, now)
		}
		if r != 0 {
			return r
		}
		if s.noEvict {
			// A page move evicts what the page holds.
			break
		}
		s.steal(c, now)
	}
	c.mu.Lock()
	c.counters.outOfMemory++
	c.mu.Unlock()
	return 0
}

// takeChunk pops a free chunk of c, or carves the next one from its bump or
// spare pages; 0 when it has none. The caller holds c.mu.
func (s *Store) takeChunk(c *class) ref {
	if r := c.free; r != 0 {
		h := s.hdr(r)
		c.free = h.next
		if c.free != 0 {
			s.hdr(c.free).prev = 0
		}
		c.nfree--
		h.state = stateAlloc
		return r
	}
	if c.bump < 0 {
		if len(c.spare) == 0 {
			return 0
		}
		c.bump, c.bumpNext = c.spare[len(c.spare)-1], 0
		c.spare = c.spare[:len(c.spare)-1]
	}
	r := s.refAt(c.bump*s.pageSize + c.bumpNext*c.size)
	if c.bumpNext++; c.bumpNext == c.perPage {
		c.bump = -1
	}
	*s.hdr(r) = header{class: c.id, state: stateAlloc}
	return r
}

// grantPage gives c a page never used before, if one is left. The caller
// holds c.mu.
func (s *Store) grantPage(c *class) bool {
	for {
		n := s.pagesUsed.Load()
		if n >= s.limitPages.Load() {
			return false
		}
		if s.pagesUsed.CompareAndSwap(n, n+1) {
			c.pages = append(c.pages, int(n))
			c.spare = append(c.spare, int(n))
			c.npages.Store(int64(len(c.pages)))
			return true
		}
	}
}

// free returns chunk r to c, unless its page is being drained. The caller
// holds c.mu; r is not linked.
func (s *Store) free(c *class, r ref) {
	h := s.hdr(r)
	h.state = stateFree
	if s.pageOf(r) == c.draining {
		return
	}
	h.prev, h.next = 0, c.free
	if c.free != 0 {
		s.hdr(c.free).prev = r
	}
	c.free = r
	c.nfree++
}

// unfree takes r off c's free list. The caller holds c.mu.
func (s *Store) unfree(c *class, r ref) {
	h := s.hdr(r)
	if h.prev != 0 {
		s.hdr(h.prev).next = h.next
	} else {
		c.free = h.next
	}
	if h.next != 0 {
		s.hdr(h.next).prev = h.prev
	}
	h.prev, h.next = 0, 0
	c.nfree--
}

// lruPush links r as c's most recently used item. The caller holds c.mu.
func (s *Store) lruPush(c *class, r ref) {
	h := s.hdr(r)
	h.prev, h.next = 0, c.head
	if c.head != 0 {
		s.hdr(c.head).prev = r
	}
	c.head = r
	if c.tail == 0 {
		c.tail = r
		c.tailAge.Store(s.abs(h.access))
	}
}

// lruRemove unlinks r from c's LRU. The caller holds c.mu.
func (s *Store) lruRemove(c *class, r ref) {
	h := s.hdr(r)
	if h.prev != 0 {
		s.hdr(h.prev).next = h.next
	} else {
		c.head = h.next
	}
	if h.next != 0 {
		s.hdr(h.next).prev = h.prev
	} else {
		c.tail = h.prev
		if c.tail != 0 {
			c.tailAge.Store(s.abs(s.hdr(c.tail).access))
		} else {
			c.tailAge.Store(math.MinInt64)
		}
	}
	h.prev, h.next = 0, 0
}

// olderElsewhere reports whether another class's least recently used item
// is older than c's by memcached's automove ratio: then a page should move
// to c rather than c evicting its own younger item. The caller holds c.mu.
func (s *Store) olderElsewhere(c *class, now int64) bool {
	if s.automove.Load() == 0 {
		return false
	}
	ratio := s.AutomoveRatio()
	mine := now - c.tailAge.Load()
	for i := 1; i < len(s.classes); i++ {
		v := &s.classes[i]
		if v == c || v.npages.Load() == 0 {
			continue
		}
		if age := v.tailAge.Load(); age == math.MinInt64 || float64(mine) < ratio*float64(now-age) {
			return true
		}
	}
	return false
}

// defaultAutomoveRatio is memcached's slab_automove_ratio: a page moves
// when the receiving class's oldest item is younger than this fraction of
// the donor's.
const defaultAutomoveRatio = 0.8

// evictTail frees c's least recently used item whose shard mutex it can
// take without waiting, trying as memcached's lru_pull_tail does a few from
// the tail, and returns its chunk in stateAlloc. If none could be taken it
// returns 0 and the tail item whose shard was busy, with its key's hash, for
// evictWaiting. The caller holds c.mu.
func (s *Store) evictTail(c *class, now int64) (r, busy ref, busyHash uint64) {
	r = c.tail
	for tries := 0; r != 0 && tries < 5; tries++ {
		prev := s.hdr(r).prev
		if s.pageOf(r) == c.draining {
			r = prev
			continue
		}
		hv := s.hash(s.key(r))
		sh := s.shardOf(hv)
		if !sh.mu.TryLock() {
			if busy == 0 {
				busy, busyHash = r, hv
			}
			r = prev
			continue
		}
		if s.noEvict && s.live(s.hdr(r), now) {
			sh.mu.Unlock()
			r = prev
			continue
		}
		s.evictLocked(c, sh, r, hv, now)
		sh.mu.Unlock()
		return r, 0, 0
	}
	return 0, busy, busyHash
}

// evictWaiting evicts r, the tail item evictTail found with its shard busy,
// waiting for the shard's mutex with c's released (the order of the locks
// is shard, then class); unless r was freed or replaced meanwhile (its CAS
// unique names the item). A shard held by someone who waits for c would
// otherwise keep its items at the tail, passed over, until every try fails.
// The caller holds no lock.
func (s *Store) evictWaiting(c *class, r ref, cas, hv uint64, now int64) ref {
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := s.hdr(r); h.state != stateLinked || h.class != c.id || h.cas != cas || s.pageOf(r) == c.draining ||
		s.noEvict && s.live(h, now) {
		return 0
	}
	s.evictLocked(c, sh, r, hv, now)
	return r
}

// evictLocked counts and unlinks r, c's item, and leaves its chunk in
// stateAlloc for the caller. The caller holds sh.mu and c.mu.
func (s *Store) evictLocked(c *class, sh *shard, r ref, hv uint64, now int64) {
	h := s.hdr(r)
	if s.live(h, now) {
		if s.onEvict != nil && s.logEvictions.Load() {
			e := Evicted{Key: s.key(r), Fetched: h.bits&bitFetched != 0, TTL: -1, Idle: now - s.abs(h.access), Class: int(c.id), Size: int(h.nbytes)}
			if h.exptime != 0 {
				e.TTL = s.abs(h.exptime) - now
			}
			s.onEvict(&e)
		}
		c.counters.evictions++
		if h.bits&bitFetched == 0 {
			c.counters.evictedUnfetched++
		}
		if h.exptime != 0 {
			c.counters.evictedNonzero++
		}
		c.counters.evictedTime = now - s.abs(h.access)
	} else {
		c.counters.reclaimed++
	}
	s.drop(c, sh, r, hv)
	*h = header{class: c.id, state: stateAlloc}
}

// drop takes r, c's linked item, off its shard's chain and c's LRU, and out
// of both counts; its chunk is then the caller's to free or reuse. The
// caller holds sh.mu and c.mu.
func (s *Store) drop(c *class, sh *shard, r ref, hv uint64) {
	h := s.hdr(r)
	s.unhash(sh, r, hv)
	s.lruRemove(c, r)
	c.items--
	c.requested -= itemSize(int(h.nkey), int(h.nbytes))
}
