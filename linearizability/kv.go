package linearizability

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// KVCmd is a cache command of the kv check.
type KVCmd uint8

const (
	KVGet KVCmd = iota
	KVGets
	KVSet
	KVDelete
	KVAppend
	KVCas
	KVIncr
)

var kvCmdNames = [...]string{"get", "gets", "set", "delete", "append", "cas", "incr"}

func (c KVCmd) String() string {
	if int(c) < len(kvCmdNames) {
		return kvCmdNames[c]
	}
	return fmt.Sprintf("cmd%d", c)
}

// KVInput is one command on one key.
type KVInput struct {
	Cmd KVCmd
	// Key partitions the history: commands on different keys commute.
	Key string
	// Value is the data block of set, append and cas.
	Value string
	// Unique is cas's CAS unique: always one the same client read with gets
	// on the same key, in an earlier command.
	Unique uint64
	// Delta is incr's amount.
	Delta uint64
}

// KVReply is the server's reply, named by memcached's word for it.
type KVReply uint8

const (
	KVMiss       KVReply = iota // END alone: get or gets found nothing
	KVHit                       // VALUE ... END
	KVStored                    // STORED
	KVNotStored                 // NOT_STORED
	KVExists                    // EXISTS
	KVNotFound                  // NOT_FOUND
	KVDeleted                   // DELETED
	KVNumber                    // incr's new value
	KVNonNumeric                // CLIENT_ERROR cannot increment or decrement non-numeric value
)

var kvReplyNames = [...]string{"miss", "hit", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "number", "CLIENT_ERROR non-numeric"}

func (r KVReply) String() string {
	if int(r) < len(kvReplyNames) {
		return kvReplyNames[r]
	}
	return fmt.Sprintf("reply%d", r)
}

// KVOutput is what the server answered.
type KVOutput struct {
	Reply KVReply
	// Value is a hit's data block or incr's new number.
	Value string
	// Unique is a gets hit's CAS unique.
	Unique uint64
}

// kvState is one key's state in the specification. States are values:
// Step returns a new one and never changes the one it was given.
type kvState struct {
	Present bool
	Value   string
	// Unique is the item's CAS unique when Known. Otherwise it is a lower
	// bound: the greatest unique the key is known to have had (0 if none),
	// and the current item's unique, unknown, is greater.
	Unique uint64
	// Known is true once a gets has shown the current item's unique.
	// Invariant: Known implies Present.
	Known bool
}

// hash is FNV-1a over s's fields, without allocating: the checker hashes
// a state at every step it caches.
func (s kvState) hash() uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(b uint64) { h = (h ^ b) * prime }
	mix(s.Unique)
	if s.Present {
		mix(1)
	}
	if s.Known {
		mix(2)
	}
	for i := range len(s.Value) {
		mix(uint64(s.Value[i]))
	}
	return h
}

// stored is s after a successful store of v: a new item, whose unique the
// server chose and the specification cannot predict.
func (s kvState) stored(v string) kvState {
	return kvState{Present: true, Value: v, Unique: s.Unique}
}

// KV is the sequential specification of the cache for the kv check, one
// state per key (partitioned by KVInput.Key; CheckEvents works too):
//
//   - get: a miss when the key is absent, else a hit with its value; gets
//     also returns the item's CAS unique.
//   - set: STORED. delete: DELETED when present, else NOT_FOUND. append:
//     STORED and the value grows when present, else NOT_STORED.
//   - cas: NOT_FOUND when absent; STORED when the unique is the item's;
//     EXISTS otherwise.
//   - incr: NOT_FOUND when absent; the CLIENT_ERROR when the value is not a
//     decimal number that fits 64 bits (memcached's safe_strtoull);
//     otherwise the sum mod 2^64, stored padded with spaces to the old
//     length when it got shorter. handoff always pads; memcached pads when
//     it rewrites the item in place, which it does unless another thread
//     holds the item. The kv runs' numbers get shorter only when they wrap.
//
// CAS uniques are chosen by the server, so a successful store leaves the
// new item's unique unknown to the specification (kvState.Known false), and
// the next gets learns it. The specification asks that it be greater than
// every unique the key had before: memcached and handoff hand uniques out
// from one global counter under the item's lock, so a key's uniques grow
// in the order its stores take effect. protocol.txt promises less (a unique
// number), but the stronger rule is what lets the state be one number
// instead of the set of uniques seen, and it refuses a server that
// reuses an item's unique after a store. A cas while the unique is unknown
// must answer EXISTS (when the key is present): the client's unique came
// from an earlier gets, which took effect before the last store (a gets
// after it would have made the unique known), so it is not the current
// one.
func KV() porcupine.Model {
	return porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			return partitionBy(h, func(op porcupine.Operation) string { return op.Input.(KVInput).Key })
		},
		PartitionEvent: func(h []porcupine.Event) [][]porcupine.Event {
			keyOf := map[int]string{}
			for _, e := range h {
				if e.Kind == porcupine.CallEvent {
					keyOf[e.Id] = e.Value.(KVInput).Key
				}
			}
			return partitionBy(h, func(e porcupine.Event) string { return keyOf[e.Id] })
		},
		Init: func() any { return kvState{} },
		Step: func(state, input, output any) (bool, any) {
			s := state.(kvState)
			ok, next := kvStep(s, input.(KVInput), output.(KVOutput))
			if next == s {
				// Most steps change nothing; boxing s again would allocate.
				return ok, state
			}
			return ok, next
		},
		Hash:              func(state any) uint64 { return state.(kvState).hash() },
		DescribeOperation: func(input, output any) string { return describeKV(input.(KVInput), output.(KVOutput)) },
		DescribeState: func(state any) string {
			s := state.(kvState)
			switch {
			case !s.Present:
				return "absent"
			case s.Known:
				return fmt.Sprintf("%q #%d", s.Value, s.Unique)
			}
			return fmt.Sprintf("%q #>%d", s.Value, s.Unique)
		},
	}
}

// partitionBy groups h by key, in key order, keeping each group's order.
func partitionBy[T any](h []T, key func(T) string) [][]T {
	by := map[string][]T{}
	for _, x := range h {
		k := key(x)
		by[k] = append(by[k], x)
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([][]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, by[k])
	}
	return out
}

func kvStep(s kvState, in KVInput, out KVOutput) (bool, kvState) {
	switch in.Cmd {
	case KVGet, KVGets:
		if !s.Present {
			return out.Reply == KVMiss, s
		}
		if out.Reply != KVHit || out.Value != s.Value {
			return false, s
		}
		switch {
		case in.Cmd == KVGet:
			return true, s
		case s.Known:
			return out.Unique == s.Unique, s
		case out.Unique <= s.Unique:
			return false, s
		}
		s.Unique, s.Known = out.Unique, true
		return true, s
	case KVSet:
		return out.Reply == KVStored, s.stored(in.Value)
	case KVDelete:
		if !s.Present {
			return out.Reply == KVNotFound, s
		}
		return out.Reply == KVDeleted, kvState{Unique: s.Unique}
	case KVAppend:
		if !s.Present {
			return out.Reply == KVNotStored, s
		}
		return out.Reply == KVStored, s.stored(s.Value + in.Value)
	case KVCas:
		switch {
		case !s.Present:
			return out.Reply == KVNotFound, s
		case s.Known && s.Unique == in.Unique:
			return out.Reply == KVStored, s.stored(in.Value)
		}
		return out.Reply == KVExists, s
	case KVIncr:
		if !s.Present {
			return out.Reply == KVNotFound, s
		}
		n, ok := decimalUint64(s.Value)
		if !ok {
			return out.Reply == KVNonNumeric, s
		}
		num := strconv.FormatUint(n+in.Delta, 10)
		if out.Reply != KVNumber || out.Value != num {
			return false, s
		}
		v := num
		if len(num) < len(s.Value) {
			v += strings.Repeat(" ", len(s.Value)-len(num))
		}
		return true, s.stored(v)
	}
	return false, s
}

// decimalUint64 reads a value as memcached's safe_strtoull does: optional
// leading white space, an optional '+', decimal digits that fit in 64 bits,
// then the end or white space.
func decimalUint64(v string) (uint64, bool) {
	rest := strings.TrimLeft(v, " \t\n\v\f\r")
	rest = strings.TrimPrefix(rest, "+")
	digits := len(rest) - len(strings.TrimLeft(rest, "0123456789"))
	if digits == 0 || (digits < len(rest) && !strings.ContainsRune(" \t\n\v\f\r", rune(rest[digits]))) {
		return 0, false
	}
	n, err := strconv.ParseUint(rest[:digits], 10, 64)
	return n, err == nil
}

func describeKV(in KVInput, out KVOutput) string {
	var call string
	switch in.Cmd {
	case KVSet, KVAppend:
		call = fmt.Sprintf("%s(%s, %q)", in.Cmd, in.Key, in.Value)
	case KVCas:
		call = fmt.Sprintf("cas(%s, %q, #%d)", in.Key, in.Value, in.Unique)
	case KVIncr:
		call = fmt.Sprintf("incr(%s, %d)", in.Key, in.Delta)
	default:
		call = fmt.Sprintf("%s(%s)", in.Cmd, in.Key)
	}
	switch {
	case out.Reply == KVHit && in.Cmd == KVGets:
		return fmt.Sprintf("%s -> %q #%d", call, out.Value, out.Unique)
	case out.Reply == KVHit:
		return fmt.Sprintf("%s -> %q", call, out.Value)
	case out.Reply == KVNumber:
		return fmt.Sprintf("%s -> %s", call, out.Value)
	}
	return fmt.Sprintf("%s -> %s", call, out.Reply)
}
