// Package answer is the least memcached a peer server needs to carry
// handoff-bench's load: get (one or more keys) and set, over a map. The
// floor, the Go net server and the gnet server all answer with it, so that
// the only difference between them is how bytes reach it.
//
// It is deliberately not a cache: no expiry, no eviction, no flags kept
// beyond the client's, no other command. A peer that did more work per
// request than memcached would flatter the servers compared against it.
package answer

import (
	"bytes"
	"strconv"
	"sync"
)

// Limits a client cannot push past, so no connection grows a server's memory
// without bound.
const (
	// MaxLine is the longest command line, as memcached's 2048.
	MaxLine = 2048
	// MaxValue is the largest value a set may carry (memcached's -I 1m).
	MaxValue = 1 << 20
	// MaxKeys bounds the map; a set of a new key beyond it is refused with
	// SERVER_ERROR out of memory, as a full memcached would.
	MaxKeys = 1 << 20
)

// Store is the map behind the answers, safe for concurrent use.
type Store struct {
	mu sync.RWMutex
	// m maps a key to its stored line suffix and value: the flags and length
	// already formatted, so a hit costs one lookup and two appends.
	// Invariant: len(m) <= MaxKeys.
	m map[string]entry
}

type entry struct {
	head []byte // " <flags> <bytes>\r\n"
	data []byte // the value followed by "\r\n"
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{m: make(map[string]entry)} }

// Answer handles every complete request at the start of in, appending the
// replies to out. It returns the bytes consumed, the extended out, and
// whether the connection must be closed once out is written (a protocol
// error). An incomplete request is left unconsumed for the next call.
func (s *Store) Answer(in, out []byte) (int, []byte, bool) {
	pos := 0
	for pos < len(in) {
		rest := in[pos:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			if len(rest) > MaxLine {
				return len(in), append(out, "CLIENT_ERROR line too long\r\n"...), true
			}
			return pos, out, false
		}
		line := rest[:nl]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		switch {
		case bytes.HasPrefix(line, []byte("get ")):
			out = s.get(line[4:], out)
			pos += nl + 1
		case bytes.HasPrefix(line, []byte("set ")):
			n, o, ok := s.set(line[4:], rest[nl+1:], out)
			if !ok {
				return len(in), o, true
			}
			if n < 0 {
				return pos, out, false
			}
			out = o
			pos += nl + 1 + n
		default:
			out = append(out, "ERROR\r\n"...)
			pos += nl + 1
		}
	}
	return pos, out, false
}

// get appends a VALUE block for every key found, then END.
func (s *Store) get(keys, out []byte) []byte {
	s.mu.RLock()
	for len(keys) > 0 {
		var k []byte
		k, keys = word(keys)
		if len(k) == 0 {
			continue
		}
		if e, ok := s.m[string(k)]; ok {
			out = append(out, "VALUE "...)
			out = append(out, k...)
			out = append(out, e.head...)
			out = append(out, e.data...)
		}
	}
	s.mu.RUnlock()
	return append(out, "END\r\n"...)
}

// set parses "<key> <flags> <exptime> <bytes> [noreply]" and stores the data
// block that follows in after. It returns the data bytes consumed (-1 when the
// block is incomplete) and ok=false on a malformed line, whose error reply it
// appends.
func (s *Store) set(args, after, out []byte) (int, []byte, bool) {
	key, args := word(args)
	flags, args := word(args)
	_, args = word(args) // exptime: never expires here
	size, args := word(args)
	quiet, _ := word(args)
	n, err := strconv.Atoi(string(size))
	if len(key) == 0 || len(key) > 250 || len(flags) == 0 || err != nil || n < 0 || n > MaxValue {
		return 0, append(out, "CLIENT_ERROR bad command line format\r\n"...), false
	}
	if len(after) < n+2 {
		return -1, out, true
	}
	if after[n] != '\r' || after[n+1] != '\n' {
		return 0, append(out, "CLIENT_ERROR bad data chunk\r\n"...), false
	}
	head := make([]byte, 0, len(flags)+len(size)+4)
	head = append(append(append(append(head, ' '), flags...), ' '), size...)
	head = append(head, "\r\n"...)
	e := entry{head: head, data: append([]byte(nil), after[:n+2]...)}
	reply := "STORED\r\n"
	s.mu.Lock()
	if _, had := s.m[string(key)]; had || len(s.m) < MaxKeys {
		s.m[string(key)] = e
	} else {
		reply = "SERVER_ERROR out of memory storing object\r\n"
	}
	s.mu.Unlock()
	if string(quiet) != "noreply" {
		out = append(out, reply...)
	}
	return n + 2, out, true
}

// word splits off the first space-separated word of b.
func word(b []byte) (w, rest []byte) {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}
