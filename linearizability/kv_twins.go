package linearizability

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
)

// The kv check's broken twins: a recorded history of the cache with one
// reply changed into one a buggy server could give, which the check must
// refute. Each returns a changed copy of h and leaves h as it is; ok is
// false when h holds no place to seed the defect.

// StaleRead makes a get answer with a value that was overwritten before the
// get was called: a cache that serves a read from an old copy. It picks a
// get hit g from the second half of h and two stores of a value on g's key,
// s1 and then s2, such that s1 returned before s2 was called and s2 before
// g was called, and makes g return s1's value V.
//
// Every linearization orders s1, s2, g so, so g would have to read V written
// again after s2, and only s1 writes V: the twin is picked only when no
// other command on the key has V as its value and no incr returned V. An
// append cannot produce V either: every set and cas value on the key has
// V's length (checked), every value derived from one is at least as long,
// and an append makes it longer.
func StaleRead(h []porcupine.Operation) ([]porcupine.Operation, bool) {
	idx := byCall(h)
	for _, gi := range idx[len(idx)/2:] {
		g := h[gi]
		key := g.Input.(KVInput).Key
		if !isRead(g) || g.Output.(KVOutput).Reply != KVHit {
			continue
		}
		s2 := lastStoreBefore(h, key, g.Call)
		if s2 < 0 {
			continue
		}
		s1 := lastStoreBefore(h, key, h[s2].Call)
		if s1 < 0 || !onlyWriterOf(h, key, s1) {
			continue
		}
		out := slices.Clone(h)
		o := g.Output.(KVOutput)
		o.Value = h[s1].Input.(KVInput).Value
		out[gi].Output = o
		return out, true
	}
	return nil, false
}

// StaleCAS makes a cas that answered EXISTS answer STORED, where the
// client's unique was provably stale: a server whose cas ignores the unique,
// or whose stores keep the old one. The cas c's unique u was read by a gets
// g0 of the same client; some store or delete s on the key was called after
// g0 returned and returned before c was called. In every linearization g0,
// s, c come in that order; after g0 the key's unique is u or a bound at
// least u, after s it is unknown and above the bound, and a later gets
// raises the bound, so u is never the current unique again and a STORED
// has no linearization (see KV).
func StaleCAS(h []porcupine.Operation) ([]porcupine.Operation, bool) {
	idx := byCall(h)
	for _, ci := range idx[len(idx)/2:] {
		c := h[ci]
		in := c.Input.(KVInput)
		if in.Cmd != KVCas || c.Output.(KVOutput).Reply != KVExists {
			continue
		}
		g0 := -1
		for _, i := range idx {
			op := h[i]
			if op.Call >= c.Call {
				break
			}
			o := op.Output.(KVOutput)
			if op.ClientId == c.ClientId && op.Input.(KVInput) == (KVInput{Cmd: KVGets, Key: in.Key}) && o.Reply == KVHit && o.Unique == in.Unique {
				g0 = i
			}
		}
		if g0 < 0 {
			continue
		}
		for _, op := range h {
			if op.Input.(KVInput).Key == in.Key && changed(op) && op.Call > h[g0].Return && op.Return < c.Call {
				out := slices.Clone(h)
				out[ci].Output = KVOutput{Reply: KVStored}
				return out, true
			}
		}
	}
	return nil, false
}

// byCall returns the indices of h ordered by call time.
func byCall(h []porcupine.Operation) []int {
	idx := make([]int, len(h))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case h[a].Call < h[b].Call:
			return -1
		case h[a].Call > h[b].Call:
			return 1
		}
		return 0
	})
	return idx
}

func isRead(op porcupine.Operation) bool {
	c := op.Input.(KVInput).Cmd
	return c == KVGet || c == KVGets
}

// changed reports whether op certainly changed its key: a store that
// answered STORED, a delete that answered DELETED, an incr that answered a
// number.
func changed(op porcupine.Operation) bool {
	r := op.Output.(KVOutput).Reply
	switch op.Input.(KVInput).Cmd {
	case KVSet, KVAppend, KVCas:
		return r == KVStored
	case KVDelete:
		return r == KVDeleted
	case KVIncr:
		return r == KVNumber
	}
	return false
}

// lastStoreBefore returns the index of the set or cas on key that stored
// its value and returned last before t, or -1.
func lastStoreBefore(h []porcupine.Operation, key string, t int64) int {
	best := -1
	for i, op := range h {
		in := op.Input.(KVInput)
		if in.Key == key && (in.Cmd == KVSet || in.Cmd == KVCas) && changed(op) && op.Return < t && (best < 0 || op.Return > h[best].Return) {
			best = i
		}
	}
	return best
}

// onlyWriterOf reports whether h[w]'s value V can be the value of its key
// only through h[w]: no other command on the key has V as its value, no
// incr returned V, and every set and cas value on the key has V's length.
func onlyWriterOf(h []porcupine.Operation, key string, w int) bool {
	v := h[w].Input.(KVInput).Value
	for i, op := range h {
		in, out := op.Input.(KVInput), op.Output.(KVOutput)
		if in.Key != key || i == w {
			continue
		}
		if in.Value == v || (out.Reply == KVNumber && out.Value == v) {
			return false
		}
		if (in.Cmd == KVSet || in.Cmd == KVCas) && len(in.Value) != len(v) {
			return false
		}
	}
	return true
}

// CasIgnoresUnique is a KVSetup.Wrap that seeds a bug in a live server: a
// cache whose cas does not compare the client's unique. Before the cache
// sees a cas command on a present key, it replaces the command's unique
// with the key's current one. Unlike the twins above, the defect goes
// through the whole run: clients, replies, recorder and checker.
func CasIgnoresUnique(cache *memcache.Cache, h reactor.Handler) reactor.Handler {
	return casIgnoresUnique{Handler: h, store: cache.Store()}
}

type casIgnoresUnique struct {
	reactor.Handler
	store *memcache.Store
}

// OnBoot passes the server on to the wrapped handler, which learns its
// bounds there.
func (b casIgnoresUnique) OnBoot(s *reactor.Server) error {
	if bt, ok := b.Handler.(reactor.Booter); ok {
		return bt.OnBoot(s)
	}
	return nil
}

func (b casIgnoresUnique) OnData(c *reactor.Conn, in []byte) int {
	line, rest, ok := bytes.Cut(in, []byte("\r\n"))
	f := bytes.Fields(line)
	if !ok || len(f) != 6 || string(f[0]) != "cas" {
		return b.Handler.OnData(c, in)
	}
	v, found := b.store.Peek(f[1], nil)
	if !found {
		return b.Handler.OnData(c, in)
	}
	f[5] = strconv.AppendUint(nil, v.CAS, 10)
	forged := append(bytes.Join(f, []byte(" ")), "\r\n"...)
	n := b.Handler.OnData(c, append(slices.Clip(forged), rest...))
	if n < len(forged) {
		return 0 // the data block has not all arrived
	}
	return n - len(forged) + len(line) + 2
}
