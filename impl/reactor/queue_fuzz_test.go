package reactor

import "testing"

// FuzzQueue drives a Worker's queue with the input and compares it with a
// plain slice: each byte pushes (low bit 0) or pops (low bit 1) 1–64 items
// at once, so that the ring grows, wraps and is dropped after a drain. Every
// pop must return what the slice's head is (P3 per-worker FIFO), an empty
// queue must pop nothing, and nothing is ever popped twice (P1
// exactly-once; spec/SPEC.md). Seeds: testdata/fuzz/FuzzQueue.
func FuzzQueue(f *testing.F) {
	f.Add([]byte{0x20, 0x11, 0x7e, 0x7f, 0x01})
	f.Add([]byte{0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var q queue
		var ref []uint64
		var next uint64
		for _, b := range data {
			k := 1 + int(b>>1)%64
			for range k {
				if b&1 == 0 {
					q.pushLocked(item{fd: int(next), seq: next})
					ref = append(ref, next)
					next++
					continue
				}
				it, ok := q.popLocked()
				if ok != (len(ref) > 0) {
					t.Fatalf("pop returned ok=%v with %d items in the reference", ok, len(ref))
				}
				if !ok {
					continue
				}
				if it.seq != ref[0] || it.fd != int(ref[0]) {
					t.Fatalf("P3: popped seq %d fd %d, want %d", it.seq, it.fd, ref[0])
				}
				ref = ref[1:]
			}
			if q.n != len(ref) {
				t.Fatalf("queue holds %d, reference %d", q.n, len(ref))
			}
			if r := len(q.ring); r&(r-1) != 0 || q.n > r {
				t.Fatalf("ring of %d slots holding %d: want a power of two holding at most that", r, q.n)
			}
		}
	})
}
