package memcache

import (
	"errors"
	"fmt"
	"hash/maphash"
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

// itemMemOverhead is what an item costs on the Go heap beyond its key and
// value bytes: the item struct, its map entry and allocation rounding,
// measured at about 150 bytes for small items (see TestMemoryAccounting). The
// memory limit (-m) and the bytes stat count it, so that -m bounds the
// process's real memory for items, not a figure a third of it.
const itemMemOverhead = 150

// StoreConfig configures a Store. The zero value of a field selects its
// default.
type StoreConfig struct {
	// MaxBytes is the memory limit for items (memcached's -m, in bytes);
	// default 64 MiB.
	MaxBytes int64
	// ItemMax is the largest item, key and value and overhead (memcached's
	// -I); default 1 MiB.
	ItemMax int
	// Shards is the number of shards, a power of two; default: the most, up
	// to 64, that still gives each shard at least twice ItemMax.
	Shards int
	// Clock returns the current time; default time.Now. Expiry reads it at
	// one-second granularity, as memcached does.
	Clock func() time.Time
}

// Store is the cache: items in shards selected by a hash of the key.
//
// Memory limit and LRU: each shard owns MaxBytes/Shards bytes and its own LRU
// list; a store into a full shard evicts that shard's least recently used
// items until the new item fits. So the total never exceeds MaxBytes, and
// eviction order is exact LRU within a shard and an approximation of a global
// LRU across shards (with uniformly hashed keys the shards age alike).
//
// Concurrency: a lookup takes only its shard's mutex (no global lock on the
// get path); the CAS counter is one atomic; per-command counters live in the
// shards under the same mutex.
type Store struct {
	shards    []shard
	mask      uint64 // len(shards)-1; len(shards) is a power of two
	seed      maphash.Seed
	maxBytes  int64
	itemMax   int
	shardMax  int64 // maxBytes / len(shards)
	clock     func() time.Time
	started   int64         // unix seconds at NewStore (memcached's process_started)
	cas       atomic.Uint64 // last CAS unique handed out; items get cas.Add(1)
	flushAt   atomic.Int64  // unix second of a pending delayed flush_all; 0: none
	flushCmds atomic.Uint64 // cmd_flush
}

// shard is one lock domain: a map, an LRU list and the counters for the
// operations that ran under its lock.
type shard struct {
	mu    sync.Mutex
	items map[string]*item
	// head is the most recently used item, tail the least; nil when empty.
	head, tail *item
	bytes      int64 // Invariant: bytes == sum of size() over items, and bytes <= Store.shardMax.
	counters   shardCounters
	_          [64]byte // keeps neighbouring shards' mutexes off one cache line
}

// item is one stored key. value is never modified after the item is linked:
// readers may use it after the shard's mutex is released.
type item struct {
	key        string
	value      []byte
	flags      uint32
	exptime    int64  // unix seconds; 0: never expires
	cas        uint64 // Invariant: unique across the store's lifetime, never 0.
	stored     int64  // unix second of the last store (for delayed flush_all)
	access     int64  // unix second of the last access (meta l flag)
	fetched    bool   // fetched at least once since stored (meta h flag)
	prev, next *item  // LRU neighbours; prev is more recent
}

// size is the memory the item is charged against the limit.
func (it *item) size() int64 { return int64(len(it.key) + len(it.value) + itemMemOverhead) }

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
	if cfg.Shards == 0 {
		cfg.Shards = 1
		for cfg.Shards < 64 && cfg.MaxBytes/int64(cfg.Shards*2) >= 2*int64(cfg.ItemMax) {
			cfg.Shards *= 2
		}
	}
	if cfg.Shards < 1 || cfg.Shards&(cfg.Shards-1) != 0 {
		return nil, fmt.Errorf("%w: shards %d is not a power of two", ErrConfig, cfg.Shards)
	}
	s := &Store{
		shards:   make([]shard, cfg.Shards),
		mask:     uint64(cfg.Shards - 1),
		seed:     maphash.MakeSeed(),
		maxBytes: cfg.MaxBytes,
		itemMax:  cfg.ItemMax,
		shardMax: cfg.MaxBytes / int64(cfg.Shards),
		clock:    cfg.Clock,
	}
	s.started = s.now()
	for i := range s.shards {
		s.shards[i].items = make(map[string]*item)
	}
	return s, nil
}

// MaxBytes is the memory limit (stat limit_maxbytes).
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// ItemMax is the item size limit (stat item_size_max).
func (s *Store) ItemMax() int { return s.itemMax }

// Shards is the number of shards.
func (s *Store) Shards() int { return len(s.shards) }

func (s *Store) now() int64 { return s.clock().Unix() }

func (s *Store) shardFor(key []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, key)&s.mask]
}

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

// live reports whether it may be returned at time now: not expired and not
// hidden by a delayed flush_all whose time has come. A dead item is unlinked by
// the caller (lazy expiry).
func (s *Store) live(it *item, now int64) bool {
	if it.exptime != 0 && it.exptime <= now {
		return false
	}
	if f := s.flushAt.Load(); f != 0 && f <= now && it.stored < f {
		return false
	}
	return true
}

// lookup returns the live item for key, unlinking it when it is dead. The
// caller holds sh.mu.
func (s *Store) lookup(sh *shard, key []byte, now int64) *item {
	it := sh.items[string(key)]
	if it == nil {
		return nil
	}
	if !s.live(it, now) {
		if it.exptime != 0 && it.exptime <= now {
			sh.counters.getExpired++
		} else {
			sh.counters.getFlushed++
		}
		sh.unlink(it)
		return nil
	}
	return it
}

// bump moves it to the head of the LRU. The caller holds sh.mu.
func (sh *shard) bump(it *item) {
	if sh.head == it {
		return
	}
	sh.detach(it)
	sh.pushFront(it)
}

func (sh *shard) pushFront(it *item) {
	it.prev = nil
	it.next = sh.head
	if sh.head != nil {
		sh.head.prev = it
	}
	sh.head = it
	if sh.tail == nil {
		sh.tail = it
	}
}

func (sh *shard) detach(it *item) {
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		sh.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		sh.tail = it.prev
	}
	it.prev, it.next = nil, nil
}

// unlink removes it from the map, the LRU and the byte count.
func (sh *shard) unlink(it *item) {
	sh.detach(it)
	delete(sh.items, it.key)
	sh.bytes -= it.size()
}

// link inserts it as the most recent item, replacing old (which may be nil),
// after evicting from the LRU tail until it fits. The caller has checked that
// it.size() <= Store.shardMax.
func (s *Store) link(sh *shard, old, it *item, now int64) {
	if old != nil {
		sh.unlink(old)
	}
	for sh.bytes+it.size() > s.shardMax && sh.tail != nil {
		victim := sh.tail
		if s.live(victim, now) {
			sh.counters.evictions++
			if !victim.fetched {
				sh.counters.evictedUnfetched++
			}
		} else {
			sh.counters.reclaimed++
		}
		sh.unlink(victim)
	}
	sh.items[it.key] = it
	sh.pushFront(it)
	sh.bytes += it.size()
	sh.counters.totalItems++
}

// reapBatch bounds the items Reap examines per lock hold, so a sweep of a
// large shard delays a lookup on it by microseconds, not milliseconds.
const reapBatch = 512

// Reap removes every expired or flushed item, one shard and one batch at a
// time, and returns how many it removed. The server calls it periodically so
// that items nobody asks for again still give their memory back; lookups
// expire items lazily in between.
//
// Between batches the lock is released; the sweep resumes from the last live
// item it passed, found again by its key. If that item was removed or
// replaced meanwhile, the sweep of that shard ends early and the next call
// covers the rest.
func (s *Store) Reap() int {
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		var resume *item // last live item passed; nil: start at the tail
		for {
			sh.mu.Lock()
			it := sh.tail
			if resume != nil {
				if sh.items[resume.key] != resume {
					sh.mu.Unlock()
					break
				}
				it = resume.prev
			}
			for k := 0; it != nil && k < reapBatch; k++ {
				prev := it.prev
				if s.live(it, now) {
					resume = it
				} else {
					if !it.fetched {
						sh.counters.expiredUnfetched++
					}
					sh.counters.crawlerReclaimed++
					sh.unlink(it)
					n++
				}
				it = prev
			}
			sh.mu.Unlock()
			if it == nil {
				break
			}
			if resume == nil {
				// A whole batch of dead items: the next batch starts at
				// the tail again, which is where the survivors now end.
				continue
			}
		}
	}
	return n
}
