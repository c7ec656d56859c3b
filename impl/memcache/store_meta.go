package memcache

// The meta protocol's stale items and win tokens, memcached's ITEM_STALE and
// ITEM_TOKEN_SENT. A client that mg's a missing key with N, or an item whose
// TTL is under R's, or a stale item, is told it won (W): it alone should
// recompute the value, the others are told a winner exists (Z) and serve
// what there is. md I marks an item stale instead of deleting it (X), and
// ms I with an older unique stores a value that stays stale. A store of a
// new value clears both marks, its item being a new one.

const (
	bitTokenSent = 2 // a client was sent W for the item
	bitStale     = 4 // marked stale (md I), or stored stale (ms I)
)

// MetaGetReq is what mg asks of the store beyond a get: the protocol values
// of T, N and R, and u.
type MetaGetReq struct {
	Touch   bool // T: set the TTL to Exptime
	Exptime int64
	// Vivify (N) creates an empty item with VivifyExptime on a miss; its
	// creator wins.
	Vivify        bool
	VivifyExptime int64
	// Recache (R) wins the first client to find the item's TTL under
	// RecacheExptime.
	Recache        bool
	RecacheExptime int64
	// NoBump (u) leaves the item's LRU position, access time and fetched
	// mark as they were.
	NoBump bool
}

// MetaView is an item as mg found it, with its marks: Created (vivified by
// this request), Won (W), TokenSent (Z: a winner was told before) and Stale
// (X).
type MetaView struct {
	View
	Created, Won, TokenSent, Stale bool
}

// MetaGet is Get for mg, with the win token's rules as memcached 1.6.18
// applies them: N wins the item it creates; R wins an item whose TTL is
// under its own, unless a token was sent; a stale item wins the first to
// find it; the token is then sent, so later finders see Z. A miss that N
// could not create an item for (no memory) is a miss.
func (s *Store) MetaGet(key []byte, req MetaGetReq, buf []byte) (MetaView, bool) {
	now := s.now()
	hv := s.hash(key)
	sh := s.shardOf(hv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	hits, misses := sh.counters.countGet(req.Touch)
	r := s.lookup(sh, key, hv, now)
	created := false
	if r == 0 && req.Vivify {
		// Allocation may evict from other shards: with this one released.
		sh.mu.Unlock()
		nr, _ := s.newItem(key, 0, 0, s.absExptime(req.VivifyExptime, now), now)
		sh.mu.Lock()
		if r = s.lookup(sh, key, hv, now); r != 0 {
			if nr != 0 {
				s.release(nr, hitNone) // another client stored it meanwhile
			}
		} else if nr != 0 {
			s.hdr(nr).cas = s.cas.Add(1)
			s.link(sh, 0, nr, hv, hitNone)
			r, created = nr, true
		}
	}
	if r == 0 {
		*misses++
		return MetaView{}, false
	}
	*hits++
	mv := MetaView{View: s.viewOf(r, buf), Created: created}
	h := s.hdr(r)
	if req.Touch {
		h.exptime = s.relExptime(s.absExptime(req.Exptime, now))
	}
	mv.TokenSent, mv.Stale = h.bits&bitTokenSent != 0, h.bits&bitStale != 0
	switch {
	case created:
		mv.Won = true
	case req.Recache && !mv.TokenSent && h.exptime != 0 && s.abs(h.exptime) < s.absExptime(req.RecacheExptime, now):
		mv.Won = true
	case mv.Stale && !mv.TokenSent:
		mv.Won = true
	}
	if mv.Won {
		h.bits |= bitTokenSent
	}
	if !req.NoBump {
		s.fetched(r, now, req.Touch)
	}
	return mv, true
}

// Invalidate is md I: it marks the item stale rather than deleting it,
// gives it a new unique, withdraws its token so that the next finder wins,
// and with touch sets its TTL (md T). It answers as Delete: NotFound, or
// Exists when hasCAS and the unique is not the item's.
func (s *Store) Invalidate(key []byte, hasCAS bool, cas uint64, touch bool, exptime int64) Result {
	return s.remove(key, hasCAS, cas, func(r ref, now int64) {
		h := s.hdr(r)
		c := &s.classes[h.class]
		c.mu.Lock()
		if touch {
			h.exptime = s.relExptime(s.absExptime(exptime, now))
			c.mayExpire = c.mayExpire || h.exptime != 0
		}
		h.bits = h.bits&^bitTokenSent | bitStale
		h.cas = s.cas.Add(1)
		c.mu.Unlock()
	})
}
