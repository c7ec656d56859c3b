package memcache

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// Per-prefix statistics, memcached's "stats detail": with detail on, every
// get, set and delete of a key holding the prefix delimiter (-D, ':' by
// default) counts against the key's part before the first delimiter.

// maxPrefixes bounds the prefixes detail tracks, so that a client sending
// ever new prefixes cannot grow the table without end (memcached's has no
// bound); a prefix first seen past it is not counted.
const maxPrefixes = 1 << 16

// DefaultPrefixDelimiter is memcached's -D default.
const DefaultPrefixDelimiter = ':'

type prefixCounts struct {
	gets, hits, sets, deletes uint64
	// seq orders the prefixes by first sight.
	seq uint64
}

// detailStats is the prefix table.
type detailStats struct {
	on atomic.Bool
	mu sync.Mutex
	// prefixes holds at most maxPrefixes entries; guarded by mu, as is
	// seen, the count of prefixes ever added.
	prefixes map[string]*prefixCounts
	seen     uint64
}

// prefixOf returns key's prefix, and false for a key without the
// delimiter.
func (c *Cache) prefixOf(key []byte) ([]byte, bool) {
	for i, b := range key {
		if b == c.settings.PrefixDelimiter {
			return key[:i], true
		}
	}
	return nil, false
}

// recordPrefix counts one command on key, when detail is on.
func (c *Cache) recordPrefix(key []byte, count func(*prefixCounts)) {
	if !c.detail.on.Load() {
		return
	}
	p, ok := c.prefixOf(key)
	if !ok {
		return
	}
	d := &c.detail
	d.mu.Lock()
	defer d.mu.Unlock()
	pc := d.prefixes[string(p)]
	if pc == nil {
		if len(d.prefixes) >= maxPrefixes {
			return
		}
		if d.prefixes == nil {
			d.prefixes = map[string]*prefixCounts{}
		}
		d.seen++
		pc = &prefixCounts{seq: d.seen}
		d.prefixes[string(p)] = pc
	}
	count(pc)
}

func (c *Cache) recordGet(key []byte, hit bool) {
	c.recordPrefix(key, func(pc *prefixCounts) {
		pc.gets++
		if hit {
			pc.hits++
		}
	})
}

func (c *Cache) recordSet(key []byte) { c.recordPrefix(key, func(pc *prefixCounts) { pc.sets++ }) }

func (c *Cache) recordDelete(key []byte) {
	c.recordPrefix(key, func(pc *prefixCounts) { pc.deletes++ })
}

// clearPrefixes forgets every prefix, as stats reset does.
func (c *Cache) clearPrefixes() {
	c.detail.mu.Lock()
	c.detail.prefixes = nil
	c.detail.mu.Unlock()
}

// prefixBuckets is the size of memcached's prefix hash table, whose order
// the dump follows.
const prefixBuckets = 256

// detailDump appends memcached's dump, a line per prefix and END, in
// memcached's order: by bucket of its 256-bucket table under its default
// hash (MurmurHash3), the newest prefix first within a bucket.
func (s *Session) detailDump(out []byte) []byte {
	d := &s.cache.detail
	d.mu.Lock()
	names := make([]string, 0, len(d.prefixes))
	for p := range d.prefixes {
		names = append(names, p)
	}
	slices.SortFunc(names, func(a, b string) int {
		if ba, bb := murmur3([]byte(a))%prefixBuckets, murmur3([]byte(b))%prefixBuckets; ba != bb {
			return cmp.Compare(ba, bb)
		}
		return cmp.Compare(d.prefixes[b].seq, d.prefixes[a].seq)
	})
	for _, p := range names {
		pc := d.prefixes[p]
		out = append(out, "PREFIX "...)
		out = append(out, p...)
		out = append(out, " get "...)
		out = strconv.AppendUint(out, pc.gets, 10)
		out = append(out, " hit "...)
		out = strconv.AppendUint(out, pc.hits, 10)
		out = append(out, " set "...)
		out = strconv.AppendUint(out, pc.sets, 10)
		out = append(out, " del "...)
		out = strconv.AppendUint(out, pc.deletes, 10)
		out = append(out, "\r\n"...)
	}
	d.mu.Unlock()
	return append(out, "END\r\n"...)
}

// statsDetail runs "stats detail on|off|dump".
func (s *Session) statsDetail(args [][]byte, out []byte) []byte {
	var arg string
	if len(args) > 0 {
		arg = string(args[0])
	}
	switch arg {
	case "on":
		s.cache.detail.on.Store(true)
		return append(out, "OK\r\n"...)
	case "off":
		s.cache.detail.on.Store(false)
		return append(out, "OK\r\n"...)
	case "dump":
		return s.detailDump(out)
	}
	return append(out, "CLIENT_ERROR usage: stats detail on|off|dump\r\n"...)
}

// murmur3 is MurmurHash3_x86_32 with seed 0, memcached's default hash.
func murmur3(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(data) / 4 * 4
	for i := 0; i < n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch tail := data[n:]; len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
