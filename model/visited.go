package model

import (
	"bytes"
	"hash/maphash"
)

// visited is the explorer's set of states seen, each numbered in the order
// it was added. Keys (State.appendKey) are stored back to back in one byte
// arena and found through an open-addressing table of their numbers, so the
// set holds no pointers: the garbage collector does not scan it, and a state
// costs its key plus about 20 bytes. A Go map of strings costs several times
// that and makes every collection walk millions of pointers.
type visited struct {
	// arena holds every key, back to back, in the order added.
	arena []byte
	// end[i] is where key i ends in arena; key i starts at end[i-1] (or 0).
	end []int
	// table holds 1 + the number of a key, 0 for an empty slot, at the slot
	// its hash picks or the next free one after it.
	// Invariant: len(table) is a power of two and at least 2*len(end).
	table []int32
	seed  maphash.Seed
}

func newVisited() *visited {
	return &visited{table: make([]int32, 1<<10), seed: maphash.MakeSeed()}
}

// len returns the number of keys in the set.
func (v *visited) len() int { return len(v.end) }

// key returns key i; it is valid until the next add.
func (v *visited) key(i int32) []byte {
	start := 0
	if i > 0 {
		start = v.end[i-1]
	}
	return v.arena[start:v.end[i]]
}

// add adds k, unless it is there already, and returns its number and
// whether it is new. k is copied.
func (v *visited) add(k []byte) (int32, bool) {
	mask := uint64(len(v.table) - 1)
	for slot := maphash.Bytes(v.seed, k) & mask; ; slot = (slot + 1) & mask {
		n := v.table[slot]
		if n == 0 {
			if len(v.end) >= 1<<31-2 {
				panic("model: more than 2^31 states")
			}
			i := int32(len(v.end))
			v.arena = append(v.arena, k...)
			v.end = append(v.end, len(v.arena))
			v.table[slot] = i + 1
			if 2*len(v.end) > len(v.table) {
				v.grow()
			}
			return i, true
		}
		if bytes.Equal(v.key(n-1), k) {
			return n - 1, false
		}
	}
}

// grow doubles the table and places every key again.
func (v *visited) grow() {
	v.table = make([]int32, 2*len(v.table))
	mask := uint64(len(v.table) - 1)
	for i := range v.end {
		slot := maphash.Bytes(v.seed, v.key(int32(i))) & mask
		for v.table[slot] != 0 {
			slot = (slot + 1) & mask
		}
		v.table[slot] = int32(i) + 1
	}
}
