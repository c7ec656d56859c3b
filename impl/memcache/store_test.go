package memcache

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

func newStore(t testing.TB, cfg StoreConfig) (*Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: transcriptEpoch}
	cfg.Clock = clock.Now
	st, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, clock
}

// TestEvictionKeepsMemoryUnderLimit fills a small store far past its limit:
// bytes never exceed -m, the store's invariants hold, evictions are counted,
// and what survives is the most recently used.
func TestEvictionKeepsMemoryUnderLimit(t *testing.T) {
	const limit = 4 << 20
	st, _ := newStore(t, StoreConfig{MaxBytes: limit, ItemMax: 64 << 10})
	val := make([]byte, 1000)
	const n = 20000 // ~20 MB into 4 MiB
	for i := range n {
		if res, _ := st.Set(fmt.Appendf(nil, "key%d", i), val, SetReq{}); res != Stored {
			t.Fatalf("set %d: %v", i, res)
		}
		if i%1000 == 0 {
			if b := st.Stats().Bytes; b > limit {
				t.Fatalf("after %d sets: bytes %d > limit %d", i, b, limit)
			}
		}
	}
	s := st.Stats()
	if s.Bytes > limit {
		t.Fatalf("bytes %d > limit %d", s.Bytes, limit)
	}
	checkStore(t, st, "20000 sets")
	if s.Evictions() == 0 || s.CurrItems+int64(s.Evictions()) != n {
		t.Fatalf("items %d + evictions %d != %d sets", s.CurrItems, s.Evictions(), n)
	}
	// The newest items fit in any shard; the oldest were evicted.
	for i := n - 100; i < n; i++ {
		if _, ok := st.Get(fmt.Appendf(nil, "key%d", i), false, 0, nil); !ok {
			t.Fatalf("recent key%d evicted", i)
		}
	}
	if _, ok := st.Get([]byte("key0"), false, 0, nil); ok {
		t.Fatal("oldest key survived 5x overfill")
	}
}

// TestLRUOrderWithinClass: a get makes an item most recently used, so the
// next eviction in its class takes another one.
func TestLRUOrderWithinClass(t *testing.T) {
	// Five pages of 16 KiB, one 10 KiB item each.
	st, _ := newStore(t, StoreConfig{MaxBytes: 80 << 10, ItemMax: 16 << 10})
	val := make([]byte, 10<<10)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		st.Set([]byte(k), val, SetReq{})
	}
	if _, ok := st.Get([]byte("a"), false, 0, nil); !ok {
		t.Fatal("a missing before overfill")
	}
	st.Set([]byte("f"), val, SetReq{})
	st.Set([]byte("g"), val, SetReq{})
	if _, ok := st.Get([]byte("a"), false, 0, nil); !ok {
		t.Fatal("recently read a was evicted")
	}
	if _, ok := st.Get([]byte("b"), false, 0, nil); ok {
		t.Fatal("least recently used b survived")
	}
}

// TestExpiryLazyAndReap: an expired item is never returned, and Reap frees
// the memory of expired items nobody asks for.
func TestExpiryLazyAndReap(t *testing.T) {
	st, clock := newStore(t, StoreConfig{})
	st.Set([]byte("short"), []byte("x"), SetReq{Exptime: 5})
	st.Set([]byte("long"), []byte("y"), SetReq{Exptime: 100})
	st.Set([]byte("never"), []byte("z"), SetReq{})
	clock.now += 5
	if _, ok := st.Get([]byte("short"), false, 0, nil); ok {
		t.Fatal("expired item returned")
	}
	clock.now += 95
	if n := st.Reap(); n != 1 {
		t.Fatalf("Reap removed %d, want 1 (long)", n)
	}
	if s := st.Stats(); s.CurrItems != 1 || s.Bytes != itemSize(len("never"), 1) {
		t.Fatalf("after reap: %d items, %d bytes", s.CurrItems, s.Bytes)
	}
}

// TestCASUniqueAndChecked: every store gets a new CAS unique; a store with a
// stale one is refused.
func TestCASUniqueAndChecked(t *testing.T) {
	st, _ := newStore(t, StoreConfig{})
	_, c1 := st.Set([]byte("k"), []byte("1"), SetReq{})
	_, c2 := st.Set([]byte("k"), []byte("2"), SetReq{})
	if c1 == 0 || c2 <= c1 {
		t.Fatalf("cas %d then %d", c1, c2)
	}
	if res, _ := st.Set([]byte("k"), []byte("3"), SetReq{HasCAS: true, CAS: c1}); res != Exists {
		t.Fatalf("stale cas: %v, want Exists", res)
	}
	res, c3 := st.Set([]byte("k"), []byte("3"), SetReq{HasCAS: true, CAS: c2})
	if res != Stored || c3 <= c2 {
		t.Fatalf("fresh cas: %v %d", res, c3)
	}
	if res, v := st.Delta([]byte("k"), DeltaReq{Incr: true, Delta: 1}); res != Stored || v.CAS <= c3 {
		t.Fatalf("incr must change the cas: %v %d", res, v.CAS)
	}
}

// TestConcurrentIncr: concurrent increments on one key from many goroutines
// are never lost (the shard lock serializes read-modify-write).
func TestConcurrentIncr(t *testing.T) {
	st, _ := newStore(t, StoreConfig{})
	st.Set([]byte("n"), []byte("0"), SetReq{})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range each {
				st.Delta([]byte("n"), DeltaReq{Incr: true, Delta: 1})
				st.Get(fmt.Appendf(nil, "other%d", r.IntN(100)), false, 0, nil)
			}
		})
	}
	wg.Wait()
	v, _ := st.Get([]byte("n"), false, 0, nil)
	if string(v.Value) != fmt.Sprint(workers*each) {
		t.Fatalf("n = %s, want %d", v.Value, workers*each)
	}
}

func TestStoreConfigRejected(t *testing.T) {
	for _, cfg := range []StoreConfig{
		{MaxBytes: 1 << 20, ItemMax: 1 << 20}, // item over half of memory
		{MaxBytes: 64 << 20, ItemMax: 100},
		{Shards: 3},
	} {
		if _, err := NewStore(cfg); err == nil {
			t.Errorf("NewStore(%+v) accepted", cfg)
		}
	}
}

// TestItemsOffTheHeap: items live in the store's arena, not on the Go heap.
// 50,000 items grow the heap by no more than their hash buckets (a few bytes
// each), however large their values, and each is charged its header, key and
// value and nothing else, less than memcached's item of the same key and
// value.
func TestItemsOffTheHeap(t *testing.T) {
	for _, size := range []int{10, 100, 1000} {
		st, _ := newStore(t, StoreConfig{MaxBytes: 128 << 20, ItemMax: 1 << 20})
		const n = 50000
		val := make([]byte, size)
		key := func(i int) []byte { return fmt.Appendf(nil, "key:%07d", i) }
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			if res, _ := st.Set(key(i), val, SetReq{}); res != Stored {
				t.Fatalf("set %d: %v", i, res)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		if heap > 16 {
			t.Errorf("%d-byte values: the Go heap grew %.1f bytes per item", size, heap)
		}
		charged := st.Stats().Bytes / n
		if charged != itemSize(len(key(0)), size) || charged >= itemTotal(len(key(0)), size, 0) {
			t.Errorf("%d-byte values: %d bytes per item, want %d (memcached's %d)", size, charged, itemSize(len(key(0)), size), itemTotal(len(key(0)), size, 0))
		}
		runtime.KeepAlive(st)
	}
}

// TestReapInBatches: a sweep over a shard much larger than one batch, with
// dead and live items interleaved and runs of dead ones, removes every dead
// item and no live one.
func TestReapInBatches(t *testing.T) {
	st, clock := newStore(t, StoreConfig{Shards: 1})
	const n = 5 * reapBatch
	for i := range n {
		exp := int64(0)
		if i%3 == 0 || (i > 2*reapBatch && i < 3*reapBatch+7) {
			exp = 10
		}
		st.Set(fmt.Appendf(nil, "k%d", i), []byte("v"), SetReq{Exptime: exp})
	}
	dead := 0
	for i := range n {
		if i%3 == 0 || (i > 2*reapBatch && i < 3*reapBatch+7) {
			dead++
		}
	}
	clock.now += 10
	if got := st.Reap(); got != dead {
		t.Fatalf("Reap removed %d, want %d", got, dead)
	}
	if s := st.Stats(); s.CurrItems != int64(n-dead) {
		t.Fatalf("%d items left, want %d", s.CurrItems, n-dead)
	}
}

// TestReapAfterTouch: Reap skips a class none of whose items can expire,
// but not once one is touched to an exptime, or once a delayed flush_all is
// pending: such items are reclaimed without a get, as memcached's crawler
// reclaims them.
func TestReapAfterTouch(t *testing.T) {
	st, clock := newStore(t, StoreConfig{})
	st.Set([]byte("a"), []byte("x"), SetReq{})
	st.Set([]byte("b"), []byte("y"), SetReq{})
	if n := st.Reap(); n != 0 {
		t.Fatalf("Reap removed %d items that never expire", n)
	}
	st.Touch([]byte("a"), 5, false)
	clock.now += 5
	if n := st.Reap(); n != 1 {
		t.Fatalf("Reap removed %d, want 1 (a, touched to expire)", n)
	}
	st.Flush(3)
	clock.now += 3
	if n := st.Reap(); n != 1 {
		t.Fatalf("Reap removed %d, want 1 (b, flushed)", n)
	}
	checkStore(t, st, "the reaps")
}
