package memcache

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestStoreUnderConcurrentFill: eight goroutines run every operation that
// allocates, evicts, moves pages between classes or frees, on a store of 16
// pages, with sizes across every class, so that evictions, page moves and
// lookups of one shard race with those of others. Afterwards the store's
// invariants hold (checkStore), each goroutine's last value for each of its
// own keys is intact where the key survived, and pages moved. Run under
// -race, the arena is on the Go heap and every access to it is watched.
func TestStoreUnderConcurrentFill(t *testing.T) {
	st, _ := newStore(t, StoreConfig{MaxBytes: 1 << 20, ItemMax: 64 << 10})
	const workers, ops = 8, 4000
	last := make([]map[string]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		last[w] = map[string]string{}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var buf []byte
			for i := range ops {
				key := fmt.Sprintf("w%d:%d", w, rng.IntN(200))
				size := rng.IntN(1 << uint(rng.IntN(15)))
				val := fmt.Appendf(nil, "%d:%d:", w, i)
				for len(val) < size {
					val = append(val, byte('a'+i%26))
				}
				switch rng.IntN(8) {
				case 0, 1, 2:
					if res, _ := st.Set([]byte(key), val, SetReq{}); res == Stored {
						last[w][key] = string(val)
					} else {
						delete(last[w], key)
					}
				case 3:
					if res, _ := st.Set([]byte(key), val[:min(len(val), 100)], SetReq{Mode: ModeAppend}); res == Stored {
						last[w][key] += string(val[:min(len(val), 100)])
					} else if res != NotStored {
						delete(last[w], key)
					}
				case 4:
					st.Delete([]byte(key), false, 0)
					delete(last[w], key)
				case 5:
					st.Touch([]byte(key), 0, true)
				case 6:
					if _, ok := st.Get([]byte(key), false, 0, buf); !ok {
						delete(last[w], key) // evicted: forget it
					}
				default:
					st.Reap()
				}
			}
		})
	}
	wg.Wait()
	checkStore(t, st, "the concurrent fill")
	held := 0
	for w := range workers {
		for key, want := range last[w] {
			v, ok := st.Get([]byte(key), false, 0, nil)
			if ok && string(v.Value) != want {
				t.Fatalf("%s = %.40q..., its writer last stored %.40q...", key, v.Value, want)
			}
			if ok {
				held++
			}
		}
	}
	if s := st.Stats(); s.Evictions() == 0 || s.reassigned == 0 || held == 0 {
		t.Fatalf("evictions %d, pages moved %d, %d keys held: the fill never made classes compete", s.Evictions(), s.reassigned, held)
	}
}

// TestConcurrentFillNeverOutOfMemory: two goroutines filling one class far
// past -m never get "out of memory": the class always has an item to
// evict, even when the shard of its least recently used items is held by
// the other goroutine, which waits for the class (memcached answers no set
// of such a fill with an error either).
func TestConcurrentFillNeverOutOfMemory(t *testing.T) {
	// The schedule that starves a class is a race: each round meets it
	// about four times in five, four rounds all but always.
	for round := range 4 {
		st, _ := newStore(t, StoreConfig{MaxBytes: 16 << 20})
		var wg sync.WaitGroup
		var refused [2]int
		val := make([]byte, 1000)
		for w := range 2 {
			wg.Go(func() {
				for i := range 60000 {
					if res, _ := st.Set(fmt.Appendf(nil, "fill:%d", 2*i+w), val, SetReq{}); res != Stored {
						refused[w]++
					}
				}
			})
		}
		wg.Wait()
		checkStore(t, st, "the fill")
		if s := st.Stats(); refused[0]+refused[1] != 0 || s.outOfMemory != 0 || s.Evictions() == 0 {
			t.Fatalf("round %d: %d sets refused, outofmemory %d, evictions %d", round, refused[0]+refused[1], s.outOfMemory, s.Evictions())
		}
	}
}
