package memcache

import (
	"math"
	"runtime"
	"slices"
)

// steal moves one page to c from the class whose least recently used item
// is oldest (an empty class first; of equally old ones, the class with the
// most pages), evicting what the page holds, as
// memcached's slab rebalancer does; it reports whether c got a page. One
// steal runs at a time; a class that could evict instead does not wait for
// another's steal. The caller holds no lock.
func (s *Store) steal(c *class, now int64) bool {
	c.mu.Lock()
	must := c.items == 0
	c.mu.Unlock()
	if must {
		s.stealMu.Lock()
	} else if !s.stealMu.TryLock() {
		return false
	}
	defer s.stealMu.Unlock()
	var v *class
	oldest := int64(math.MaxInt64)
	for i := 1; i < len(s.classes); i++ {
		d := &s.classes[i]
		if d == c || d.npages.Load() == 0 {
			continue
		}
		// Ages are in seconds: among classes whose tails are equally
		// old, the one with the most pages loses the least of what it
		// holds (a class of one page would lose every item).
		if age := d.tailAge.Load(); age < oldest || age == oldest && v != nil && d.npages.Load() > v.npages.Load() {
			v, oldest = d, age
		}
	}
	if v == nil {
		return false
	}
	p, ok := s.drain(v, now)
	if ok {
		s.give(c, p)
	}
	return ok
}

// give makes page p, drained, one of c's spare pages.
func (s *Store) give(c *class, p int) {
	c.mu.Lock()
	c.pages = append(c.pages, p)
	c.spare = append(c.spare, p)
	c.npages.Store(int64(len(c.pages)))
	c.mu.Unlock()
}

// ReassignResult is the outcome of Reassign, one per reply of memcached's
// slabs reassign.
type ReassignResult uint8

const (
	ReassignOK       ReassignResult = iota // OK: the page is moving
	ReassignBusy                           // BUSY: a page is moving already
	ReassignBadClass                       // BADCLASS: no such class
	ReassignNoSpare                        // NOSPARE: the source has fewer than 2 pages
	ReassignSame                           // SAME: source and destination are one class
)

// Reassign starts moving a page from class src to class dst, as memcached's
// slabs reassign does: in the background, evicting what the page holds. src
// -1 picks the class with the most pages. The move is the one steal makes,
// and like it holds stealMu until it ends. memcached's class 0, its global
// page pool, is no class here: handoff hands pages straight to classes.
func (s *Store) Reassign(src, dst int) ReassignResult {
	if !s.stealMu.TryLock() {
		return ReassignBusy
	}
	unlock := true
	defer func() {
		if unlock {
			s.stealMu.Unlock()
		}
	}()
	if src == dst {
		return ReassignSame
	}
	if src == -1 {
		most := int64(0)
		for i := 1; i < len(s.classes); i++ {
			if n := s.classes[i].npages.Load(); i != dst && n > most {
				src, most = i, n
			}
		}
	}
	if src < 1 || src >= len(s.classes) || dst < 1 || dst >= len(s.classes) {
		return ReassignBadClass
	}
	v, c := &s.classes[src], &s.classes[dst]
	if v.npages.Load() < 2 {
		return ReassignNoSpare
	}
	unlock = false
	go func() {
		defer s.stealMu.Unlock()
		if p, ok := s.drain(v, s.now()); ok {
			s.give(c, p)
		}
	}()
	return ReassignOK
}

// SetAutomove sets memcached's slab_automove: 0 moves no page by age
// (a class with nothing to evict still takes one), 1 and 2 move them by
// the automove ratio.
func (s *Store) SetAutomove(level int) { s.automove.Store(int32(level)) }

// Automove is the slab_automove level.
func (s *Store) Automove() int { return int(s.automove.Load()) }

// SetAutomoveRatio sets slab_automove_ratio.
func (s *Store) SetAutomoveRatio(r float64) { s.automoveRatio.Store(math.Float64bits(r)) }

// AutomoveRatio is slab_automove_ratio.
func (s *Store) AutomoveRatio() float64 { return math.Float64frombits(s.automoveRatio.Load()) }

// drainPasses bounds how long drain waits for chunks of the page that were
// handed out before it began and are not yet linked or freed.
const drainPasses = 1000

// drain takes a page from v and evicts every item in it. It waits for each
// item's shard mutex, so the caller holds none. It fails, leaving the page
// with v, when a chunk stays handed out and unlinked through drainPasses
// passes.
func (s *Store) drain(v *class, now int64) (int, bool) {
	s.moving.Store(true)
	defer s.moving.Store(false)
	v.mu.Lock()
	if len(v.pages) == 0 {
		v.mu.Unlock()
		return 0, false
	}
	p := v.pages[len(v.pages)-1]
	v.pages = v.pages[:len(v.pages)-1]
	v.npages.Store(int64(len(v.pages)))
	carved := v.perPage
	switch {
	case p == v.bump:
		carved, v.bump = v.bumpNext, -1
	case slices.Contains(v.spare, p):
		v.spare = slices.DeleteFunc(v.spare, func(q int) bool { return q == p })
		carved = 0
	}
	v.draining = p
	for i := range carved {
		if r := s.refAt(p*s.pageSize + i*v.size); s.hdr(r).state == stateFree {
			s.unfree(v, r)
		}
	}
	v.mu.Unlock()

	var linked []ref
	for pass := 0; ; pass++ {
		v.mu.Lock()
		linked, inFlight := linked[:0], false
		for i := range carved {
			r := s.refAt(p*s.pageSize + i*v.size)
			switch s.hdr(r).state {
			case stateLinked:
				linked = append(linked, r)
			case stateAlloc:
				inFlight = true
				v.counters.moveBusy++
			}
		}
		v.mu.Unlock()
		if len(linked) == 0 && !inFlight {
			break
		}
		for _, r := range linked {
			s.evictForMove(v, r, now)
		}
		if len(linked) == 0 {
			if pass >= drainPasses {
				s.undrain(v, p, carved)
				return 0, false
			}
			runtime.Gosched()
		}
	}
	v.mu.Lock()
	v.draining = -1
	v.counters.reassigned++
	v.mu.Unlock()
	return p, true
}

// evictForMove evicts item r of v, unless it was freed or replaced since
// drain saw it. The caller holds no lock.
func (s *Store) evictForMove(v *class, r ref, now int64) {
	v.mu.Lock()
	h := s.hdr(r)
	if h.state != stateLinked {
		v.mu.Unlock()
		return
	}
	hv := s.hash(s.key(r))
	v.mu.Unlock()
	sh := s.shardOf(hv)
	sh.mu.Lock()
	v.mu.Lock()
	// The chunk cannot be reused while its page drains, so a chunk still
	// linked is the item whose key was hashed above.
	if h.state == stateLinked {
		v.counters.moveEvicted++
		s.evictLocked(v, sh, r, hv, now)
		s.free(v, r)
	}
	v.mu.Unlock()
	sh.mu.Unlock()
}

// undrain gives page p back to v after a failed drain: its free chunks go
// back on the free list, the chunks never carved become free ones.
func (s *Store) undrain(v *class, p, carved int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.draining = -1
	v.pages = append(v.pages, p)
	v.npages.Store(int64(len(v.pages)))
	for i := range v.perPage {
		r := s.refAt(p*s.pageSize + i*v.size)
		if i >= carved {
			*s.hdr(r) = header{class: v.id}
		}
		if s.hdr(r).state == stateFree {
			s.free(v, r)
		}
	}
}
