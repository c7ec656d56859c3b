package memcache

import (
	"fmt"
	"testing"

	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestReassignMovesAPage: slabs reassign takes a page from one class, evicts
// what it held, and gives it to another, in the background as memcached's
// rebalancer does; the store's invariants hold after it, and a second
// reassign while the first runs is BUSY.
func TestReassignMovesAPage(t *testing.T) {
	st, _ := newStore(t, StoreConfig{MaxBytes: 8 << 20, ItemMax: 64 << 10})
	small := st.classFor(headerSize + 8 + 100)
	big := st.classFor(headerSize + 8 + 5000)
	for i := range 2000 { // 2,000 small items: more than one page of them
		st.Set(fmt.Appendf(nil, "s:%05d", i), make([]byte, 100), SetReq{})
	}
	if n := small.npages.Load(); n < 2 {
		t.Fatalf("class %d has %d pages after the fill, want 2 or more", small.id, n)
	}
	pages, items := small.npages.Load(), st.Stats().CurrItems
	st.stealMu.Lock() // a move under way
	if got := st.Reassign(int(small.id), int(big.id)); got != ReassignBusy {
		t.Fatalf("Reassign during a move: %v, want ReassignBusy", got)
	}
	st.stealMu.Unlock()
	if got := st.Reassign(int(small.id), int(big.id)); got != ReassignOK {
		t.Fatalf("Reassign: %v, want ReassignOK", got)
	}
	reactortest.WaitFor(t, "the page to reach the big class", func() bool { return big.npages.Load() == 1 })
	reactortest.WaitFor(t, "the move to end", func() bool {
		if !st.stealMu.TryLock() {
			return false
		}
		st.stealMu.Unlock()
		return true
	})
	checkStore(t, st, "the reassign")
	s := st.Stats()
	if small.npages.Load() != pages-1 || s.CurrItems >= items || s.reassigned != 1 {
		t.Fatalf("small class: %d pages (was %d); %d items (was %d); %d pages moved", small.npages.Load(), pages, s.CurrItems, items, s.reassigned)
	}
	// The big class fills its page without evicting or moving another.
	for i := range 8 {
		if res, _ := st.Set(fmt.Appendf(nil, "b:%d", i), make([]byte, 5000), SetReq{}); res != Stored {
			t.Fatalf("big set %d: %v", i, res)
		}
	}
	if s2 := st.Stats(); s2.Evictions() != s.Evictions() || s2.reassigned != 1 {
		t.Fatalf("storing into the moved page evicted %d and moved %d pages", s2.Evictions()-s.Evictions(), s2.reassigned-1)
	}
}

// TestAutomoveOff: with slab_automove 0 a class evicts its own items rather
// than take a page from a class whose items are older; with 1 it takes it.
func TestAutomoveOff(t *testing.T) {
	for _, level := range []int{0, 1} {
		st, clock := newStore(t, StoreConfig{MaxBytes: 2 << 20, ItemMax: 64 << 10})
		st.SetAutomove(level)
		for i := 0; st.pagesUsed.Load() < int64(st.npages)/2; i++ {
			st.Set(fmt.Appendf(nil, "old:%d", i), make([]byte, 100), SetReq{})
		}
		clock.now += 100 // the small items are old now
		for i := range 2000 {
			st.Set(fmt.Appendf(nil, "new:%d", i), make([]byte, 3000), SetReq{})
		}
		checkStore(t, st, fmt.Sprintf("automove %d", level))
		if moved := st.Stats().reassigned; (level == 0) != (moved == 0) {
			t.Errorf("automove %d: %d pages moved", level, moved)
		}
	}
}

// TestCrawlReclaims: "lru_crawler crawl" reclaims the expired items of the
// classes it names, in the background, and leaves the rest.
func TestCrawlReclaims(t *testing.T) {
	st, clock := newStore(t, StoreConfig{})
	s := NewCache(st, Settings{}, nil).NewSession()
	runCmds(t, s, "set short 0 5 1\r\nx\r\nset long 0 100 1\r\ny\r\nset big 0 5 3000\r\n"+string(make([]byte, 3000))+"\r\n")
	clock.now += 5
	small := st.classFor(headerSize + 5 + 1).id
	if got := runCmds(t, s, fmt.Sprintf("lru_crawler crawl %d\r\n", small)); got != "OK\r\n" {
		t.Fatalf("crawl: %q", got)
	}
	reactortest.WaitFor(t, "the crawl of the small items' class", func() bool { return !s.cache.crawling.Load() })
	if c := st.Stats(); c.CurrItems != 2 || c.crawlerReclaimed != 1 {
		t.Fatalf("after the crawl: %d items, %d reclaimed; want long and big left, short reclaimed", c.CurrItems, c.crawlerReclaimed)
	}
}

// TestCacheMemlimit: cache_memlimit lowers the limit at run time: stats
// and stats settings report it, and no page past it is handed out; the
// pages already in use stay, as memcached's do. It cannot rise past the
// -m the arena was mapped with.
func TestCacheMemlimit(t *testing.T) {
	st, _ := newStore(t, StoreConfig{MaxBytes: 32 << 20, ItemMax: 64 << 10})
	s := NewCache(st, Settings{}, nil).NewSession()
	if got := runCmds(t, s, "cache_memlimit 8\r\ncache_memlimit 33\r\n"); got != "OK\r\nMEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n" {
		t.Fatalf("cache_memlimit: %q", got)
	}
	if g, set := statsOf(t, runCmds(t, s, "stats\r\n")), statsOf(t, runCmds(t, s, "stats settings\r\n")); g["limit_maxbytes"] != "8388608" || set["maxbytes"] != "8388608" {
		t.Fatalf("limit_maxbytes %s, maxbytes %s after cache_memlimit 8", g["limit_maxbytes"], set["maxbytes"])
	}
	for i := range 3000 { // 15 MB into 8 MiB: every page of the new limit, none past it
		st.Set(fmt.Appendf(nil, "k:%d", i), make([]byte, 5000), SetReq{})
	}
	if p := st.Stats().Pages; p != 8<<20/int64(st.pageSize) {
		t.Fatalf("%d pages handed out under an 8 MiB limit of %d-byte pages", p, st.pageSize)
	}
	checkStore(t, st, "the fill under the lowered limit")
}

// TestStealTiesGoToTheLargerClass: when every class's oldest item is as old
// as the others (ages are in seconds, so a store filled within one second),
// the page moved to a class that has none comes from the class with the
// most pages, not from one whose single page is all it holds.
func TestStealTiesGoToTheLargerClass(t *testing.T) {
	st, _ := newStore(t, StoreConfig{MaxBytes: 4 << 20, ItemMax: 64 << 10})
	if res, _ := st.Set([]byte("lone"), make([]byte, 100), SetReq{}); res != Stored {
		t.Fatalf("set lone: %v", res)
	}
	val := make([]byte, 1000)
	evicted := func() uint64 { s := st.Stats(); return s.Evictions() }
	for i := 0; evicted() == 0; i++ {
		if res, _ := st.Set(fmt.Appendf(nil, "fill%d", i), val, SetReq{}); res != Stored {
			t.Fatalf("set fill%d: %v", i, res)
		}
		if i > 10000 {
			t.Fatal("4 MiB not full after 10,000 items of 1000 bytes")
		}
	}
	// A class with no page: it must take one from another.
	if res, _ := st.Set([]byte("big"), make([]byte, 20000), SetReq{}); res != Stored {
		t.Fatalf("set big: %v", res)
	}
	if _, ok := st.Get([]byte("lone"), false, 0, nil); !ok {
		t.Fatal("the only item of a one-page class was evicted to give its page away, though a class of many pages was as old")
	}
	checkStore(t, st, "after the steal")
}
