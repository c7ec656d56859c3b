package memcache

import (
	"bytes"
	"math"
	"strconv"
)

// Result is the outcome of a store operation, one per protocol reply.
type Result uint8

const (
	Stored     Result = iota // STORED / HD
	NotStored                // NOT_STORED / NS: add found the key, replace/append/prepend did not
	Exists                   // EXISTS / EX: the CAS unique did not match
	NotFound                 // NOT_FOUND / NF
	TooLarge                 // SERVER_ERROR object too large for cache
	NoMemory                 // SERVER_ERROR out of memory storing object
	NonNumeric               // CLIENT_ERROR cannot increment or decrement non-numeric value
	Created                  // HD: ma's N created the missing item (Delta only)
)

// Mode is the storage command.
type Mode uint8

const (
	ModeSet Mode = iota
	ModeAdd
	ModeReplace
	ModeAppend
	ModePrepend
)

// View is a snapshot of an item as one operation saw it. Value is a copy,
// in the buffer the caller passed (grown if it was too small): the item's
// memory may be reused once the operation returns.
type View struct {
	Value   []byte
	Flags   uint32
	CAS     uint64
	Exptime int64 // unix seconds; 0: never
	Access  int64 // unix second of the access before this one
	Fetched bool  // fetched before this access
}

// viewOf copies item r out. The caller holds r's shard mutex.
func (s *Store) viewOf(r ref, buf []byte) View {
	h := s.hdr(r)
	return View{Value: append(buf[:0], s.value(r)...), Flags: h.flags, CAS: s.shownCAS(h.cas), Exptime: s.abs(h.exptime), Access: s.abs(h.access), Fetched: h.bits&bitFetched != 0}
}

// shownCAS is the unique a client is shown for an item whose unique is
// cas: none (0) with CAS off (memcached's -C), whose items carry none.
// The store still numbers its items, to tell an item from its successor.
func (s *Store) shownCAS(cas uint64) uint64 {
	if s.noCAS {
		return 0
	}
	return cas
}

// casMatch reports whether a client's unique names item r. With CAS off
// every unique does, as memcached compares the item's unique, 0, with the
// request's, which it could not store either.
func (s *Store) casMatch(r ref, cas uint64) bool {
	return s.noCAS || s.hdr(r).cas == cas
}

// Now is the store's current unix second.
func (s *Store) Now() int64 { return s.now() }

// Get returns the live item for key, its value copied into buf, and marks it
// fetched and most recently used. With touch it also sets the item's exptime
// (gat, mg T); exptime is the protocol value. The View is the item as found,
// before the touch: mg reports the TTL from before its T flag when its t flag
// comes first, as memcached does. A touching get counts as a touch only
// (cmd_touch, touch_hits, touch_misses), not as a get, as memcached counts
// gat and mg T.
func (s *Store) Get(key []byte, touch bool, exptime int64, buf []byte) (View, bool) {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	hits, misses := sh.counters.countGet(touch)
	r := s.lookup(sh, key, hv, now)
	if r == 0 {
		*misses++
		return View{}, false
	}
	*hits++
	v := s.viewOf(r, buf)
	if touch {
		s.hdr(r).exptime = s.relExptime(s.absExptime(exptime, now))
	}
	s.fetched(r, now, touch)
	return v, true
}

// countGet counts a get, or with touch a touching get, in cmd_get (or
// cmd_touch) and returns the hit and miss counters to count its outcome in.
// The caller holds the shard's mutex.
func (c *shardCounters) countGet(touch bool) (hits, misses *uint64) {
	if touch {
		c.cmdTouch++
		return &c.touchHits, &c.touchMisses
	}
	c.cmdGet++
	return &c.getHits, &c.getMisses
}

// fetched marks item r fetched and most recently used at now, counting the
// hit in its class as a get's, or with touch a touch's. The caller holds
// r's shard mutex.
func (s *Store) fetched(r ref, now int64, touch bool) {
	s.hdr(r).bits |= bitFetched
	k := hitGet
	if touch {
		k = hitTouch
	}
	s.touchLRU(r, now, 0, k)
}

// Peek returns the live item for key, its value copied into buf, without
// counting it as a fetch (meta me, the debug command).
func (s *Store) Peek(key []byte, buf []byte) (View, bool) {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.lookup(sh, key, hv, now)
	if r == 0 {
		return View{}, false
	}
	return s.viewOf(r, buf), true
}

// SetReq is a storage request.
type SetReq struct {
	Mode    Mode
	Flags   uint32
	Exptime int64 // protocol value
	// HasCAS makes the store conditional on the item existing with CAS
	// (cas, ms C).
	HasCAS bool
	CAS    uint64
	// Invalidate (ms I) lets a cas with a unique older than the item's
	// store the value marked stale, instead of failing with Exists.
	Invalidate bool
}

// Fits reports whether an item with this key, value length and client flags
// is within the item size limit; a storage command checks it before reading
// the value.
func (s *Store) Fits(key []byte, n int, flags uint32) bool {
	return itemTotal(len(key), n, flags) <= int64(s.itemMax)
}

// raceTries bounds how often an operation that read an item, let go of its
// shard to allocate, and found the item changed when it came back starts
// over; past it the operation fails as out of memory.
const raceTries = 100

// Set stores value under key per req and returns the result and the new CAS
// unique. value is copied.
//
// The chunk is allocated, and the value written into it, before the shard's
// mutex is taken, as memcached allocates before it stores: allocation may
// evict from other shards.
func (s *Store) Set(key, value []byte, req SetReq) (Result, uint64) {
	if !s.Fits(key, len(value), req.Flags) {
		if req.Mode == ModeSet {
			s.Drop(key)
		}
		return TooLarge, 0
	}
	if req.Mode == ModeAppend || req.Mode == ModePrepend {
		return s.join(key, value, req)
	}
	now := s.now()
	r, res := s.newItem(key, len(value), req.Flags, s.absExptime(req.Exptime, now), now)
	if r == 0 {
		// memcached counts no set it found no memory for (its cmd_set is
		// the sum of its classes' set_cmds, counted once an item is
		// allocated), and drops the old value of a set it could not store, so
		// that no stale value outlives a set that was answered an error.
		if req.Mode == ModeSet {
			s.Drop(key)
		}
		return res, 0
	}
	copy(s.value(r), value)
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.counters.cmdSet++
	old := s.lookup(sh, key, hv, now)
	// memcached's rules: a set or a replace with a CAS unique is the cas
	// command, which needs the item and its unique; add ignores the unique.
	isCAS := req.HasCAS && (req.Mode == ModeSet || req.Mode == ModeReplace)
	res = Stored
	switch {
	case isCAS && old == 0:
		sh.counters.casMisses++
		res = NotFound
	case isCAS && s.casMatch(old, req.CAS):
		sh.counters.casHits++
	case isCAS && req.Invalidate && req.CAS < s.hdr(old).cas:
		// ms I: an older unique stores the value as stale, keeping the
		// item's TTL and its token, as memcached's CAS_STALE.
		sh.counters.casHits++
		oh, h := s.hdr(old), s.hdr(r)
		h.exptime = oh.exptime
		h.bits |= bitStale | oh.bits&bitTokenSent
	case isCAS:
		sh.counters.casBadval++
		res = Exists
	case req.Mode == ModeAdd && old != 0:
		// memcached bumps the existing item on a failed add.
		s.touchLRU(old, s.abs(s.hdr(old).access), 0, hitNone)
		res = NotStored
	case req.Mode == ModeReplace && old == 0:
		res = NotStored
	}
	// memcached counts a set in the class of the item it allocated,
	// whatever the outcome.
	if res != Stored {
		s.release(r, hitSet)
		if res == Exists {
			s.countClass(old, hitCASBadval)
		}
		return res, 0
	}
	cas := s.cas.Add(1)
	s.hdr(r).cas = cas
	if isCAS {
		s.countClass(old, hitCAS)
	}
	s.link(sh, old, r, hv, hitSet)
	return Stored, s.shownCAS(cas)
}

// join runs append and prepend: a new item holding the old value and the
// new one, replacing the old item if it is still the one read.
func (s *Store) join(key, value []byte, req SetReq) (Result, uint64) {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	for try := 0; ; try++ {
		sh.mu.Lock()
		if try == 0 {
			sh.counters.cmdSet++
		}
		old := s.lookup(sh, key, hv, now)
		if old == 0 {
			sh.mu.Unlock()
			return NotStored, 0
		}
		oh := s.hdr(old)
		if req.HasCAS && req.CAS != 0 && !s.casMatch(old, req.CAS) {
			sh.mu.Unlock()
			return Exists, 0 // a unique of 0 compares with nothing here
		}
		n := int(oh.nbytes) + len(value)
		if !s.Fits(key, n, oh.flags) {
			sh.mu.Unlock()
			return TooLarge, 0
		}
		oldCAS, flags, exptime := oh.cas, oh.flags, s.abs(oh.exptime)
		sh.mu.Unlock()
		r, res := s.newItem(key, n, flags, exptime, now)
		if r == 0 {
			return res, 0
		}
		sh.mu.Lock()
		if s.lookup(sh, key, hv, now) != old || oh.cas != oldCAS {
			sh.mu.Unlock()
			s.release(r, hitNone)
			if try == raceTries {
				return NoMemory, 0
			}
			continue
		}
		dst, ov := s.value(r), s.value(old)
		if req.Mode == ModeAppend {
			copy(dst[copy(dst, ov):], value)
		} else {
			copy(dst[copy(dst, value):], ov)
		}
		cas := s.cas.Add(1)
		s.hdr(r).cas = cas
		s.link(sh, old, r, hv, hitSet)
		sh.mu.Unlock()
		return Stored, s.shownCAS(cas)
	}
}

// Drop removes key without counting a delete: a set refused as too large
// must not leave the old value behind (memcached does the same).
func (s *Store) Drop(key []byte) {
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	if r := s.find(sh, key, hv); r != 0 {
		s.unlink(sh, r, hv, hitNone)
	}
	sh.mu.Unlock()
}

// Delete removes key. With hasCAS it removes it only if its CAS unique is
// cas (meta md C).
func (s *Store) Delete(key []byte, hasCAS bool, cas uint64) Result {
	return s.remove(key, hasCAS, cas, nil)
}

// remove is Delete, or with mark set Invalidate: it finds the item, checks
// the unique, then unlinks the item or calls mark on it. mark runs holding
// the item's shard mutex.
func (s *Store) remove(key []byte, hasCAS bool, cas uint64, mark func(r ref, now int64)) Result {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := s.lookup(sh, key, hv, now)
	if r == 0 {
		sh.counters.deleteMisses++
		return NotFound
	}
	if hasCAS && !s.casMatch(r, cas) {
		return Exists
	}
	if mark != nil {
		mark(r, now)
		return Stored
	}
	sh.counters.deleteHits++
	s.unlink(sh, r, hv, hitDelete)
	return Stored
}

// Touch sets the exptime of key; exptime is the protocol value. With fetch it
// also marks the item fetched, as memcached's touch command does (mg's h
// flag then says so) and ma's T flag does not.
func (s *Store) Touch(key []byte, exptime int64, fetch bool) Result {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.counters.cmdTouch++
	r := s.lookup(sh, key, hv, now)
	if r == 0 {
		sh.counters.touchMisses++
		return NotFound
	}
	sh.counters.touchHits++
	h := s.hdr(r)
	h.exptime = s.relExptime(s.absExptime(exptime, now))
	if fetch {
		h.bits |= bitFetched
	}
	s.touchLRU(r, s.abs(h.access), 0, hitTouch)
	return Stored
}

// DeltaReq is an incr/decr request.
type DeltaReq struct {
	Incr   bool
	Delta  uint64
	HasCAS bool
	CAS    uint64
	// Vivify creates a missing item with value Initial and exptime Exptime
	// (meta ma N and J) instead of answering NotFound.
	Vivify  bool
	Initial uint64
	Exptime int64
}

// Delta adds to or subtracts from the decimal number stored under key:
// unsigned 64-bit, incr wraps, decr stops at 0. It returns the item after the
// change, whose value is the new number without padding.
//
// A number no longer than the old one is rewritten in place, padded with
// spaces, as memcached does; a longer one, and a created one, is a new item,
// allocated with the shard's mutex released, and stored only if the item read
// is still there unchanged (else the operation starts over).
func (s *Store) Delta(key []byte, req DeltaReq) (Result, View) {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	for try := 0; ; try++ {
		res, v, old, n, grow := s.deltaTry(sh, key, hv, req, now)
		if !grow {
			v.CAS = s.shownCAS(v.CAS)
			return res, v
		}
		// A new item for the new number n: allocate, then recheck.
		var exptime int64
		var flags uint32
		if res == Created {
			exptime = s.absExptime(req.Exptime, now)
		} else {
			flags, exptime = v.Flags, v.Exptime
		}
		num := strconv.AppendUint(nil, n, 10)
		nr, nres := s.newItem(key, len(num), flags, exptime, now)
		if nr == 0 {
			return nres, View{}
		}
		copy(s.value(nr), num)
		sh.mu.Lock()
		cur := s.lookup(sh, key, hv, now)
		// Still the item read (none, for a created one), unchanged.
		if cur != old || (old != 0 && s.hdr(old).cas != v.CAS) {
			sh.mu.Unlock()
			s.release(nr, hitNone)
			if try == raceTries {
				return NoMemory, View{}
			}
			continue
		}
		s.countDelta(sh, req, res)
		cas := s.cas.Add(1)
		s.hdr(nr).cas = cas
		k := hitNone
		if res == Stored {
			k = req.hit()
		}
		s.link(sh, cur, nr, hv, k)
		out := s.viewOf(nr, nil)
		sh.mu.Unlock()
		out.CAS = s.shownCAS(out.CAS)
		return res, out
	}
}

// deltaTry does the part of Delta that needs no allocation. It returns the
// final result, or, with grow, asks for a new item holding n: res Created
// for a missing item (old 0), Stored for one that grew, with v and old the
// item read.
func (s *Store) deltaTry(sh *shard, key []byte, hv uint64, req DeltaReq, now int64) (res Result, v View, old ref, n uint64, grow bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old = s.lookup(sh, key, hv, now)
	if old == 0 {
		if !req.Vivify {
			s.countDelta(sh, req, NotFound)
			return NotFound, View{}, 0, 0, false
		}
		if !s.Fits(key, len(strconv.AppendUint(nil, req.Initial, 10)), 0) {
			s.countDelta(sh, req, NotFound)
			return TooLarge, View{}, 0, 0, false
		}
		return Created, View{}, 0, req.Initial, true
	}
	oh := s.hdr(old)
	val := s.value(old)
	// memcached's order: an empty value is no number, then the unique is
	// compared, then the value parsed.
	if len(val) == 0 {
		return NonNumeric, View{}, 0, 0, false
	}
	if req.HasCAS && !s.casMatch(old, req.CAS) {
		sh.counters.casBadval++
		s.countClass(old, hitCASBadval)
		return Exists, View{}, 0, 0, false
	}
	n, ok := parseStoredUint(val)
	if !ok {
		return NonNumeric, View{}, 0, 0, false
	}
	if req.Incr {
		n += req.Delta
	} else if req.Delta > n {
		n = 0
	} else {
		n -= req.Delta
	}
	var digits [20]byte
	num := strconv.AppendUint(digits[:0], n, 10)
	if len(num) > len(val) {
		return Stored, View{Flags: oh.flags, CAS: oh.cas, Exptime: s.abs(oh.exptime)}, old, n, true
	}
	// memcached rewrites a number that did not grow in place, padded with
	// spaces to the old length (clients see the padding on get), and stores
	// no item: total_items does not count it, and the item stays the one
	// fetched before.
	copy(val[copy(val, num):], "                    "[:len(val)-len(num)])
	s.touchLRU(old, now, s.cas.Add(1), req.hit())
	s.countDelta(sh, req, Stored)
	out := s.viewOf(old, nil)
	out.Value = out.Value[:len(num)]
	return Stored, out, 0, 0, false
}

// hit is the per-class count an incr or decr that found its number adds to.
func (req DeltaReq) hit() hit {
	if req.Incr {
		return hitIncr
	}
	return hitDecr
}

// countClass counts a hit in r's class. The caller holds r's shard mutex.
func (s *Store) countClass(r ref, k hit) {
	c := &s.classes[s.hdr(r).class]
	c.mu.Lock()
	c.counters.hits[k]++
	c.mu.Unlock()
}

// countDelta counts an incr or decr that ended in res. The caller holds
// sh.mu.
func (s *Store) countDelta(sh *shard, req DeltaReq, res Result) {
	c := &sh.counters
	switch {
	case res == Stored && req.Incr:
		c.incrHits++
	case res == Stored:
		c.decrHits++
	case req.Incr:
		c.incrMisses++
	default:
		c.decrMisses++
	}
}

// parseStoredUint reads a stored value as memcached's safe_strtoull does:
// optional leading whitespace, an optional sign, decimal digits that fit in
// 64 bits, then the end or whitespace.
func parseStoredUint(b []byte) (uint64, bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	// strtoull takes a sign, and negates the number after a minus; memcached
	// refuses the result only when it is 2^63 or more (negative as a signed
	// number) and a minus is in the value, so "-1" is no number and
	// "-14611686018427387903" is 3835058055282163713.
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var n uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
		i++
	}
	if i == start || (i < len(b) && !isSpace(b[i])) {
		return 0, false
	}
	if neg {
		n = -n
	}
	if n >= 1<<63 && bytes.IndexByte(b, '-') >= 0 {
		return 0, false
	}
	return n, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Flush invalidates every item: now when delay <= 0 (their chunks are freed
// at once), else every item stored before now+delay stops being returned
// once that second comes.
func (s *Store) Flush(delay int64) {
	s.flushCmds.Add(1)
	now := s.now()
	if !s.noCAS && (delay <= 0 || s.absExptime(delay, now)-1 <= now) {
		// memcached numbers a flush that takes effect within the second
		// (its oldest_cas), so the uniques after it are one higher.
		s.cas.Add(1)
	}
	if delay > 0 {
		s.flushAt.Store(s.absExptime(delay, now))
		return
	}
	s.flushAt.Store(0)
	for i := range s.shards {
		s.shards[i].mu.Lock()
	}
	for i := 1; i < len(s.classes); i++ {
		c := &s.classes[i]
		c.mu.Lock()
		for r := c.head; r != 0; {
			next := s.hdr(r).next
			s.free(c, r)
			r = next
		}
		c.head, c.tail, c.items, c.requested = 0, 0, 0, 0
		c.tailAge.Store(math.MinInt64)
		c.mu.Unlock()
	}
	for i := range s.shards {
		sh := &s.shards[i]
		clear(sh.buckets)
		sh.count, sh.bytes = 0, 0
		sh.mu.Unlock()
	}
}
