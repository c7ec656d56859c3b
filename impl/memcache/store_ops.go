package memcache

import (
	"bytes"
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

// View is a snapshot of an item as one operation saw it. Value is shared with
// the store and must not be modified.
type View struct {
	Value   []byte
	Flags   uint32
	CAS     uint64
	Exptime int64 // unix seconds; 0: never
	Access  int64 // unix second of the access before this one
	Fetched bool  // fetched before this access
}

func viewOf(it *item) View {
	return View{Value: it.value, Flags: it.flags, CAS: it.cas, Exptime: it.exptime, Access: it.access, Fetched: it.fetched}
}

// Now is the store's current unix second.
func (s *Store) Now() int64 { return s.now() }

// Get returns the live item for key and marks it fetched and most recently
// used. With touch it also sets the item's exptime (gat, mg T); exptime is the
// protocol value. The View is the item as found, before the touch: mg reports
// the TTL from before its T flag when its t flag comes first, as memcached
// does. A touching get counts as a touch only (cmd_touch, touch_hits,
// touch_misses), not as a get, as memcached counts gat and mg T.
func (s *Store) Get(key []byte, touch bool, exptime int64) (View, bool) {
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	c := &sh.counters
	cmd, hits, misses := &c.cmdGet, &c.getHits, &c.getMisses
	if touch {
		cmd, hits, misses = &c.cmdTouch, &c.touchHits, &c.touchMisses
	}
	*cmd++
	it := s.lookup(sh, key, now)
	if it == nil {
		*misses++
		sh.mu.Unlock()
		return View{}, false
	}
	*hits++
	v := viewOf(it)
	if touch {
		it.exptime = s.absExptime(exptime, now)
	}
	it.fetched = true
	it.access = now
	sh.bump(it)
	sh.mu.Unlock()
	return v, true
}

// Peek returns the live item for key without counting it as a fetch (meta
// me, the debug command).
func (s *Store) Peek(key []byte) (View, bool) {
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it := s.lookup(sh, key, now)
	if it == nil {
		return View{}, false
	}
	return viewOf(it), true
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
}

// Fits reports whether an item with this key, value length and client flags
// is within the item size limit; a storage command checks it before reading
// the value.
func (s *Store) Fits(key []byte, n int, flags uint32) bool {
	return itemTotal(len(key), n, flags) <= int64(s.itemMax)
}

// Set stores value under key per req and returns the result and the new CAS
// unique. value is copied.
func (s *Store) Set(key, value []byte, req SetReq) (Result, uint64) {
	if !s.Fits(key, len(value), req.Flags) {
		if req.Mode == ModeSet {
			s.Drop(key)
		}
		return TooLarge, 0
	}
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.counters.cmdSet++
	old := s.lookup(sh, key, now)
	it := &item{key: string(key), flags: req.Flags, stored: now, access: now}
	// memcached's rules: a set or a replace with a CAS unique is the cas
	// command, which needs the item and its unique; add ignores the unique;
	// append and prepend need the item, and its unique when one other than
	// 0 is given.
	isCAS := req.HasCAS && (req.Mode == ModeSet || req.Mode == ModeReplace)
	switch {
	case isCAS && old == nil:
		sh.counters.casMisses++
		return NotFound, 0
	case isCAS && old.cas != req.CAS:
		sh.counters.casBadval++
		return Exists, 0
	case isCAS:
		sh.counters.casHits++
	case req.Mode == ModeAdd && old != nil:
		// memcached bumps the existing item on a failed add.
		sh.bump(old)
		return NotStored, 0
	case (req.Mode == ModeReplace || req.Mode == ModeAppend || req.Mode == ModePrepend) && old == nil:
		return NotStored, 0
	case req.Mode == ModeAppend || req.Mode == ModePrepend:
		if req.HasCAS && req.CAS != 0 && old.cas != req.CAS {
			return Exists, 0 // a unique of 0 compares with nothing here
		}
		if !s.Fits(key, len(old.value)+len(value), old.flags) {
			return TooLarge, 0
		}
		joined := make([]byte, 0, len(old.value)+len(value))
		if req.Mode == ModeAppend {
			joined = append(append(joined, old.value...), value...)
		} else {
			joined = append(append(joined, value...), old.value...)
		}
		it.value = joined
		it.flags = old.flags
		it.exptime = old.exptime
	}
	if it.value == nil {
		it.value = append(make([]byte, 0, len(value)), value...)
		it.exptime = s.absExptime(req.Exptime, now)
	}
	if it.size() > s.shardMax {
		return NoMemory, 0
	}
	it.cas = s.cas.Add(1)
	s.link(sh, old, it, now)
	return Stored, it.cas
}

// Drop removes key without counting a delete: a set refused as too large
// must not leave the old value behind (memcached does the same).
func (s *Store) Drop(key []byte) {
	sh := s.shardFor(key)
	sh.mu.Lock()
	if it := sh.items[string(key)]; it != nil {
		sh.unlink(it)
	}
	sh.mu.Unlock()
}

// Delete removes key. With hasCAS it removes it only if its CAS unique is
// cas (meta md C).
func (s *Store) Delete(key []byte, hasCAS bool, cas uint64) Result {
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it := s.lookup(sh, key, now)
	if it == nil {
		sh.counters.deleteMisses++
		return NotFound
	}
	if hasCAS && it.cas != cas {
		return Exists
	}
	sh.counters.deleteHits++
	sh.unlink(it)
	return Stored
}

// Touch sets the exptime of key; exptime is the protocol value. With fetch it
// also marks the item fetched, as memcached's touch command does (mg's h
// flag then says so) and ma's T flag does not.
func (s *Store) Touch(key []byte, exptime int64, fetch bool) Result {
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.counters.cmdTouch++
	it := s.lookup(sh, key, now)
	if it == nil {
		sh.counters.touchMisses++
		return NotFound
	}
	sh.counters.touchHits++
	it.exptime = s.absExptime(exptime, now)
	if fetch {
		it.fetched = true
	}
	sh.bump(it)
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
func (s *Store) Delta(key []byte, req DeltaReq) (Result, View) {
	now := s.now()
	sh := s.shardFor(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := s.lookup(sh, key, now)
	if old == nil {
		if req.Incr {
			sh.counters.incrMisses++
		} else {
			sh.counters.decrMisses++
		}
		if !req.Vivify {
			return NotFound, View{}
		}
		v := strconv.AppendUint(nil, req.Initial, 10)
		if !s.Fits(key, len(v), 0) {
			return TooLarge, View{}
		}
		it := &item{key: string(key), value: v, exptime: s.absExptime(req.Exptime, now), stored: now, access: now}
		it.cas = s.cas.Add(1)
		s.link(sh, nil, it, now)
		return Created, viewOf(it)
	}
	// memcached's order: an empty value is no number, then the unique is
	// compared, then the value parsed.
	if len(old.value) == 0 {
		return NonNumeric, View{}
	}
	if req.HasCAS && old.cas != req.CAS {
		sh.counters.casBadval++
		return Exists, View{}
	}
	n, ok := parseStoredUint(old.value)
	if !ok {
		return NonNumeric, View{}
	}
	if req.Incr {
		n += req.Delta
		sh.counters.incrHits++
	} else {
		if req.Delta > n {
			n = 0
		} else {
			n -= req.Delta
		}
		sh.counters.decrHits++
	}
	num := strconv.AppendUint(nil, n, 10)
	val := num
	// memcached rewrites a number that got shorter in place, padded with
	// spaces to the old length; clients see the padding on get.
	if len(num) < len(old.value) {
		val = make([]byte, len(old.value))
		copy(val, num)
		for i := len(num); i < len(val); i++ {
			val[i] = ' '
		}
	}
	// In place (the number did not grow) the item stays the one fetched
	// before; a longer number is a new item, fetched by nobody yet.
	it := &item{key: old.key, value: val, flags: old.flags, exptime: old.exptime, stored: now, access: now, fetched: old.fetched && len(num) <= len(old.value)}
	it.cas = s.cas.Add(1)
	s.link(sh, old, it, now)
	if len(num) <= len(old.value) {
		// memcached rewrites such a number in place: no item is stored, so
		// total_items does not count one.
		sh.counters.totalItems--
	}
	v := viewOf(it)
	v.Value = num
	return Stored, v
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

// Flush invalidates every item: now when delay <= 0 (the memory is freed at
// once, shard by shard), else every item stored before now+delay stops being
// returned once that second comes.
func (s *Store) Flush(delay int64) {
	s.flushCmds.Add(1)
	if delay > 0 {
		s.flushAt.Store(s.absExptime(delay, s.now()))
		return
	}
	s.flushAt.Store(0)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		clear(sh.items)
		sh.head, sh.tail, sh.bytes = nil, nil, 0
		sh.mu.Unlock()
	}
}
