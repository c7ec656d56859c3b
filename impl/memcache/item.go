package memcache

import (
	"math"
	"unsafe"
)

// header is the start of every chunk in the arena: an item's metadata,
// followed by its key and then its value. It holds no Go pointers, so the
// collector never looks at an item; items refer to each other by ref.
//
// Guards: cas, hnext, exptime, access, flags, nbytes, the key and value
// bytes and bits are guarded by the mutex of the item's shard (the one its
// key hashes to); prev, next, class and state by the mutex of its class. A
// linked item's nkey and key do not change until it is freed.
type header struct {
	cas     uint64 // Invariant: unique across the store's lifetime, never 0, for a linked item.
	hnext   ref    // next item in the shard's hash chain
	prev    ref    // LRU: more recent neighbour, or free-list neighbour
	next    ref    // LRU: less recent neighbour, or free-list neighbour
	exptime uint32 // relative second (see Store.rel); 0: never expires
	access  uint32 // relative second of the last access
	flags   uint32 // client flags
	nbytes  uint32 // value length
	nkey    uint8
	class   uint8 // slab class owning the chunk
	state   uint8 // stateFree, stateAlloc or stateLinked
	bits    uint8 // bitFetched, bitTokenSent, bitStale
}

// headerSize is what an item costs beyond its key and value: 40 bytes,
// against memcached's 48-byte header plus its 8-byte CAS, key terminator,
// value "\r\n" and, for flags other than 0, 4 bytes more.
const headerSize = int(unsafe.Sizeof(header{}))

const (
	stateFree   = iota // on its class's free list, or in a page being drained
	stateAlloc         // handed out by alloc, not yet linked: its owner writes it unlocked
	stateLinked        // in its shard's hash and its class's LRU
)

const bitFetched = 1 // fetched at least once since stored (meta h flag)

// ref names a chunk: its offset in the arena, in units of the store's
// alignment, plus one; 0 is no chunk. 32 bits keep the header small; the
// alignment grows with -m so that any arena is addressable.
type ref uint32

// minAlignShift is log2 of the smallest alignment of a chunk: header's
// uint64 needs 8 bytes.
const minAlignShift = 3

// hdr returns the header of the chunk r.
func (s *Store) hdr(r ref) *header {
	return (*header)(unsafe.Pointer(&s.arena[int(r-1)<<s.alignShift]))
}

// offset is r's byte offset in the arena.
func (s *Store) offset(r ref) int { return int(r-1) << s.alignShift }

// refAt is the ref of the chunk at byte offset off.
func (s *Store) refAt(off int) ref { return ref(off>>s.alignShift) + 1 }

// key returns the item's key, aliasing the arena.
func (s *Store) key(r ref) []byte {
	h := s.hdr(r)
	off := s.offset(r) + headerSize
	return s.arena[off : off+int(h.nkey) : off+int(h.nkey)]
}

// value returns the item's value, aliasing the arena: valid only while the
// item's shard mutex is held.
func (s *Store) value(r ref) []byte {
	h := s.hdr(r)
	off := s.offset(r) + headerSize + int(h.nkey)
	return s.arena[off : off+int(h.nbytes) : off+int(h.nbytes)]
}

// itemSize is the bytes an item takes in its chunk (stat bytes).
func itemSize(nkey, nbytes int) int64 { return int64(headerSize + nkey + nbytes) }

// rel converts a unix second to the store's relative seconds, as memcached's
// rel_time_t: 32 bits counted from just before the store started. A time at
// or before that start maps to 1 (long past); one beyond 136 years is
// clamped.
func (s *Store) rel(unix int64) uint32 {
	d := unix - s.epoch
	switch {
	case d < 1:
		return 1
	case d > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(d)
}

// abs converts relative seconds back to a unix second; 0 stays 0 (never).
func (s *Store) abs(rel uint32) int64 {
	if rel == 0 {
		return 0
	}
	return s.epoch + int64(rel)
}

// relExptime is rel for an exptime, where 0 means never.
func (s *Store) relExptime(unix int64) uint32 {
	if unix == 0 {
		return 0
	}
	return s.rel(unix)
}
