package reactor

import (
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// These are rapid property tests of the reactor's pure parts against
// simple references; a failure is shrunk and kept under testdata/rapid.

// TestRapidQueue checks a Worker's queue against a slice, action by action:
// pushes and pops in any order and number pop the pushed items in order
// (P3 per-worker FIFO), each once (P1 exactly-once; spec/SPEC.md), and the
// ring stays a power of two holding at most its size.
func TestRapidQueue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var q queue
		var ref []uint64
		var next uint64
		t.Repeat(map[string]func(*rapid.T){
			"push": func(t *rapid.T) {
				for range rapid.IntRange(1, 70).Draw(t, "pushes") {
					q.pushLocked(item{fd: int(next), seq: next})
					ref = append(ref, next)
					next++
				}
			},
			"pop": func(t *rapid.T) {
				for range rapid.IntRange(1, 70).Draw(t, "pops") {
					it, ok := q.popLocked()
					if ok != (len(ref) > 0) {
						t.Fatalf("pop: ok=%v with %d items queued", ok, len(ref))
					}
					if !ok {
						return
					}
					if it.seq != ref[0] || it.fd != int(ref[0]) {
						t.Fatalf("P3: popped %d (fd %d), want %d", it.seq, it.fd, ref[0])
					}
					ref = ref[1:]
				}
			},
			"": func(t *rapid.T) {
				if q.n != len(ref) {
					t.Fatalf("queue holds %d, reference %d", q.n, len(ref))
				}
				if r := len(q.ring); r&(r-1) != 0 || q.n > r {
					t.Fatalf("ring of %d slots holds %d", r, q.n)
				}
			},
		})
	})
}

// TestRapidBalancerRoundRobin checks P2 round-robin (spec/SPEC.md) on the
// balancer alone: picks made concurrently by K Acceptors get the dense
// sequence numbers 0..M-1, each once, and number k goes to worker k mod N.
func TestRapidBalancerRoundRobin(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "workers")
		k := rapid.IntRange(1, 4).Draw(t, "acceptors")
		per := rapid.IntRange(0, 200).Draw(t, "picks per acceptor")
		b := balancer{workers: fakeWorkers(n)}
		got := make([][2]uint64, 0, k*per)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range k {
			wg.Go(func() {
				for range per {
					seq, w := b.pick()
					mu.Lock()
					got = append(got, [2]uint64{seq, uint64(w.id)})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.SortFunc(got, func(a, b [2]uint64) int { return int(a[0]) - int(b[0]) })
		for i, g := range got {
			if g[0] != uint64(i) {
				t.Fatalf("P1: sequence numbers not dense: position %d holds %d", i, g[0])
			}
			if g[1] != g[0]%uint64(n) {
				t.Fatalf("P2: conn %d went to worker %d, want %d", g[0], g[1], g[0]%uint64(n))
			}
		}
	})
}

// TestRapidBalancerLeastConns checks the least-connections balancer against
// a reference: the worker with the fewest connections, ties going to the
// first at or after k mod N, so that equal loads rotate.
func TestRapidBalancerLeastConns(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "workers")
		ws := fakeWorkers(n)
		b := balancer{leastConns: true, workers: ws}
		loads := make([]int64, n)
		t.Repeat(map[string]func(*rapid.T){
			"pick": func(t *rapid.T) {
				next := b.seq.Load()
				want := int(next % uint64(n))
				for i := 1; i < n; i++ {
					if c := (int(next) + i) % n; loads[c] < loads[want] {
						want = c
					}
				}
				seq, w := b.pick()
				if seq != next || w.id != want {
					t.Fatalf("pick = (%d, worker %d), want (%d, worker %d) with loads %v", seq, w.id, next, want, loads)
				}
				loads[want]++
				w.load.Add(1)
			},
			"close": func(t *rapid.T) {
				w := rapid.IntRange(0, n-1).Draw(t, "worker")
				if loads[w] > 0 {
					loads[w]--
					ws[w].load.Add(-1)
				}
			},
		})
	})
}

// fakeWorkers returns n Workers with only their index and load: all the
// balancer reads.
func fakeWorkers(n int) []*worker {
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = &worker{owner: owner{id: i}}
	}
	return ws
}
