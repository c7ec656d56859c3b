package memcache

import (
	"fmt"
	"testing"
)

// The store's two switches from memcached's command line: -M (NoEvict) and
// -C (NoCAS).

// TestNoEvictAnswersOutOfMemory: with NoEvict a full store refuses a new
// item with NoMemory and keeps every item it stored; nothing is evicted, no
// page is moved, and an item that expired is still reclaimed for a new one.
func TestNoEvictAnswersOutOfMemory(t *testing.T) {
	st, clock := newStore(t, StoreConfig{MaxBytes: 2 << 20, ItemMax: 64 << 10, NoEvict: true})
	val := make([]byte, 8192)
	stored := 0
	for ; ; stored++ {
		res, _ := st.Set(fmt.Appendf(nil, "dash%d", stored), val, SetReq{Exptime: int64(1 + stored%2*1000)})
		if res == NoMemory {
			break
		}
		if res != Stored || stored > 1000 {
			t.Fatalf("set %d: %v: 2 MiB must fill in under 1000 items of 8 KiB", stored, res)
		}
	}
	if res, _ := st.Set([]byte("one-more"), val, SetReq{}); res != NoMemory {
		t.Fatalf("a set into a full store with NoEvict: %v, want NoMemory", res)
	}
	if s := st.Stats(); s.Evictions() != 0 || s.reassigned != 0 {
		t.Fatalf("NoEvict: %d evictions, %d pages moved, want none", s.Evictions(), s.reassigned)
	}
	for i := range stored {
		if _, ok := st.Get(fmt.Appendf(nil, "dash%d", i), false, 0, nil); !ok {
			t.Fatalf("dash%d lost under NoEvict", i)
		}
	}
	// Half the items had a TTL of 1 s: past it, their chunks are reclaimed.
	clock.now += 2
	if res, _ := st.Set([]byte("after-expiry"), val, SetReq{}); res != Stored {
		t.Fatalf("a set once items expired, with NoEvict: %v, want Stored", res)
	}
	checkStore(t, st, "after NoEvict")
}

// TestNoCASShowsNoUnique: with NoCAS every unique shown is 0, and a cas
// stores onto any existing item whatever its unique, as memcached -C does;
// a cas of a missing key is still NotFound.
func TestNoCASShowsNoUnique(t *testing.T) {
	st, _ := newStore(t, StoreConfig{NoCAS: true})
	if res, cas := st.Set([]byte("k"), []byte("v1"), SetReq{}); res != Stored || cas != 0 {
		t.Fatalf("set: %v, cas %d, want Stored, 0", res, cas)
	}
	if v, ok := st.Get([]byte("k"), false, 0, nil); !ok || v.CAS != 0 {
		t.Fatalf("get: %v, cas %d, want a hit with cas 0", ok, v.CAS)
	}
	if res, _ := st.Set([]byte("k"), []byte("v2"), SetReq{HasCAS: true, CAS: 12345}); res != Stored {
		t.Fatalf("cas with any unique onto an item: %v, want Stored", res)
	}
	if res, _ := st.Set([]byte("missing"), []byte("v"), SetReq{HasCAS: true, CAS: 1}); res != NotFound {
		t.Fatalf("cas of a missing key: %v, want NotFound", res)
	}
	if res, v := st.Delta([]byte("n"), DeltaReq{Incr: true, Delta: 1}); res != NotFound || v.CAS != 0 {
		t.Fatalf("incr of a missing key: %v %d", res, v.CAS)
	}
	st.Set([]byte("n"), []byte("1"), SetReq{})
	if res, v := st.Delta([]byte("n"), DeltaReq{Incr: true, Delta: 1, HasCAS: true, CAS: 99}); res != Stored || v.CAS != 0 {
		t.Fatalf("incr with a unique under NoCAS: %v, cas %d, want Stored, 0", res, v.CAS)
	}
	if st.Delete([]byte("k"), true, 777) != Stored {
		t.Fatal("delete with a unique under NoCAS must delete")
	}
}
