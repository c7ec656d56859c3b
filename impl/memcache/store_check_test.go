package memcache

import (
	"bytes"
	"fmt"
	"math"
	"testing"
)

// checkStore stops the store (every shard's mutex, then every class's) and
// checks its invariants: every linked item is on its key's chain exactly
// once and on its class's LRU, the counts and byte sums match the lists,
// free chunks are free, every chunk of every page is linked, free or never
// carved, and the pages handed out fit in -m. It returns the bytes the items
// take and their count. The store must be quiescent: no chunk in stateAlloc.
func checkStore(t *testing.T, st *Store, step string) (bytesUsed, items int64) {
	t.Helper()
	b, n, err := storeInvariants(st)
	if err != nil {
		t.Fatalf("after %s: %v", step, err)
	}
	return b, n
}

// storeInvariants is checkStore's walk; it returns the first broken
// invariant.
func storeInvariants(st *Store) (bytesUsed, items int64, err error) {
	for i := range st.shards {
		st.shards[i].mu.Lock()
		defer st.shards[i].mu.Unlock()
	}
	for i := 1; i < len(st.classes); i++ {
		st.classes[i].mu.Lock()
		defer st.classes[i].mu.Unlock()
	}
	onChain := map[ref]bool{}
	for i := range st.shards {
		sh := &st.shards[i]
		var n, b int64
		mask := uint64(len(sh.buckets) - 1)
		for bi, r := range sh.buckets {
			for ; r != 0; r = st.hdr(r).hnext {
				h := st.hdr(r)
				hv := st.hash(st.key(r))
				if h.state != stateLinked || st.shardOf(hv) != sh || int((hv>>32)&mask) != bi {
					return 0, 0, fmt.Errorf("item %q on shard %d bucket %d: state %d, hashes elsewhere", st.key(r), i, bi, h.state)
				}
				if onChain[r] {
					return 0, 0, fmt.Errorf("item %q on a chain twice", st.key(r))
				}
				onChain[r] = true
				n++
				b += itemSize(int(h.nkey), int(h.nbytes))
			}
		}
		if n != sh.count || b != sh.bytes {
			return 0, 0, fmt.Errorf("shard %d counts %d items of %d bytes, its chains hold %d of %d", i, sh.count, sh.bytes, n, b)
		}
		bytesUsed += b
		items += n
	}
	var pages int64
	seenPage := map[int]bool{}
	for i := 1; i < len(st.classes); i++ {
		c := &st.classes[i]
		var n int
		var req int64
		var prev ref
		for r := c.head; r != 0; r = st.hdr(r).next {
			h := st.hdr(r)
			if h.state != stateLinked || h.class != c.id || h.prev != prev || !onChain[r] {
				return 0, 0, fmt.Errorf("class %d: LRU item %q state %d class %d, on a chain %v", i, st.key(r), h.state, h.class, onChain[r])
			}
			delete(onChain, r)
			n++
			req += itemSize(int(h.nkey), int(h.nbytes))
			prev = r
		}
		if prev != c.tail || n != c.items || req != c.requested {
			return 0, 0, fmt.Errorf("class %d: LRU of %d items, %d bytes, counted %d, %d", i, n, req, c.items, c.requested)
		}
		wantAge := int64(math.MinInt64)
		if c.tail != 0 {
			wantAge = st.abs(st.hdr(c.tail).access)
		}
		if got := c.tailAge.Load(); got != wantAge {
			return 0, 0, fmt.Errorf("class %d: tailAge %d, tail accessed at %d", i, got, wantAge)
		}
		nfree := 0
		for r := c.free; r != 0; r = st.hdr(r).next {
			if h := st.hdr(r); h.state != stateFree || h.class != c.id {
				return 0, 0, fmt.Errorf("class %d: free chunk in state %d of class %d", i, h.state, h.class)
			}
			nfree++
		}
		if nfree != c.nfree {
			return 0, 0, fmt.Errorf("class %d: free list of %d, counted %d", i, nfree, c.nfree)
		}
		// Every chunk of every page: linked, free or never carved.
		carvedTotal := 0
		for _, p := range c.pages {
			if seenPage[p] {
				return 0, 0, fmt.Errorf("page %d owned twice", p)
			}
			seenPage[p] = true
			carved := c.perPage
			if p == c.bump {
				carved = c.bumpNext
			}
			for _, q := range c.spare {
				if q == p {
					carved = 0
				}
			}
			for k := range carved {
				r := st.refAt(p*st.pageSize + k*c.size)
				if h := st.hdr(r); h.class != c.id || h.state == stateAlloc {
					return 0, 0, fmt.Errorf("class %d page %d chunk %d: class %d state %d", i, p, k, h.class, h.state)
				}
			}
			carvedTotal += carved
		}
		if carvedTotal != n+nfree {
			return 0, 0, fmt.Errorf("class %d: %d chunks carved, %d linked + %d free", i, carvedTotal, n, nfree)
		}
		if c.npages.Load() != int64(len(c.pages)) || c.draining != -1 {
			return 0, 0, fmt.Errorf("class %d: npages %d for %d pages, draining %d", i, c.npages.Load(), len(c.pages), c.draining)
		}
		pages += int64(len(c.pages))
	}
	if len(onChain) != 0 {
		return 0, 0, fmt.Errorf("%d items on chains but on no LRU", len(onChain))
	}
	// The pages handed out fit in the arena, which is -m (a lowered
	// cache_memlimit leaves the pages in use where they are, as
	// memcached's does), and the items fit in their pages.
	if pages != st.pagesUsed.Load() || pages > int64(st.npages) || bytesUsed > pages*int64(st.pageSize) {
		return 0, 0, fmt.Errorf("%d pages owned, %d handed out, of %d bytes, in an arena of %d pages: items take %d", pages, st.pagesUsed.Load(), st.pageSize, st.npages, bytesUsed)
	}
	return bytesUsed, items, nil
}

// TestCheckStoreRefutes: the checker catches a store whose bookkeeping is
// off (its broken twin).
func TestCheckStoreRefutes(t *testing.T) {
	st, _ := newStore(t, StoreConfig{MaxBytes: 1 << 20, ItemMax: 64 << 10})
	for i := range 100 {
		st.Set([]byte{'k', byte(i)}, bytes.Repeat([]byte("v"), i), SetReq{})
	}
	checkStore(t, st, "100 sets")
	st.shards[3].bytes++
	if _, _, err := storeInvariants(st); err == nil {
		t.Fatal("checkStore passed a shard whose bytes are off by one")
	}
	st.shards[3].bytes--
	c := st.classFor(headerSize + 3 + 50)
	c.mu.Lock()
	r := c.head
	st.lruRemove(c, r) // an item on its chain but on no LRU
	c.mu.Unlock()
	if _, _, err := storeInvariants(st); err == nil {
		t.Fatal("checkStore passed an item on no LRU")
	}
}
