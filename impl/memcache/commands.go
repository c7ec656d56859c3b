package memcache

import (
	"bytes"
	"math"
	"strconv"
)

// Reply lines shared by several commands, as memcached words them.
const (
	replyError       = "ERROR\r\n"
	replyBadFormat   = "CLIENT_ERROR bad command line format\r\n"
	replyBadChunk    = "CLIENT_ERROR bad data chunk\r\n"
	replyBadExptime  = "CLIENT_ERROR invalid exptime argument\r\n"
	replyBadDelta    = "CLIENT_ERROR invalid numeric delta argument\r\n"
	replyNonNumeric  = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	replyTooLarge    = "SERVER_ERROR object too large for cache\r\n"
	replyNoMemory    = "SERVER_ERROR out of memory storing object\r\n"
	replyDeleteUsage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
)

// command runs one command line; after is the input that follows the line,
// where a storage command's data block starts. It returns the extended out,
// how many bytes of after it consumed, and what the loop does next.
func (s *Session) command(line, after, out []byte) ([]byte, int, status) {
	name, args := firstWord(line)
	switch n := string(name); n {
	case "get", "gets", "gat", "gats":
		out = s.retrieve(args, out, n == "gets" || n == "gats", n == "gat" || n == "gats")
		if bytes.HasSuffix(out, []byte("END\r\n")) {
			// A retrieval that ended flushes what is pending, as
			// memcached's does.
			s.flushed = len(out)
		}
		return out, 0, done
	}
	toks, ok := s.tokenize(line)
	if len(toks) == 0 || !ok {
		return append(out, replyError...), 0, done
	}
	switch string(toks[0]) {
	case "set":
		return s.storage(ModeSet, toks, after, out)
	case "add":
		return s.storage(ModeAdd, toks, after, out)
	case "replace":
		return s.storage(ModeReplace, toks, after, out)
	case "append":
		return s.storage(ModeAppend, toks, after, out)
	case "prepend":
		return s.storage(ModePrepend, toks, after, out)
	case "cas":
		return s.storage(ModeSet, toks, after, out)
	case "delete":
		return s.delete(toks, out), 0, done
	case "incr", "decr":
		return s.delta(toks, out), 0, done
	case "touch":
		return s.touch(toks, out), 0, done
	case "flush_all":
		return s.flushAll(toks, out), 0, done
	case "version":
		out = append(out, "VERSION "...)
		out = append(out, s.cache.settings.Version...)
		return append(out, "\r\n"...), 0, done
	case "verbosity":
		return s.verbosity(toks, out), 0, done
	case "quit":
		s.quit = true
		return out, 0, closeNow
	case "watch":
		return s.watch(toks, out), 0, done
	case "stats":
		return s.stats(toks[1:], out), 0, done
	case "mn", "mg", "ms", "md", "ma", "me":
		return s.meta(toks, after, out)
	case "shutdown":
		out, st := s.shutdown(toks, out)
		return out, 0, st
	case "lru_crawler":
		return s.lruCrawler(toks, out), 0, done
	case "slabs":
		return s.slabs(toks, out), 0, done
	case "cache_memlimit":
		return s.cacheMemlimit(toks, out), 0, done
	case "lru":
		return s.lru(toks, out), 0, done
	}
	if bytes.HasPrefix(toks[len(toks)-1], []byte("HTTP/")) {
		// An HTTP request line: memcached hangs up without a word.
		return out, 0, closeNow
	}
	return append(out, replyError...), 0, done
}

// firstWord splits off the command name, skipping leading spaces.
func firstWord(line []byte) (word, rest []byte) {
	line = bytes.TrimLeft(line, " ")
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		return line[:i], line[i+1:]
	}
	return line, nil
}

// nextWord splits off the next space-separated word of b.
func nextWord(b []byte) (word, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// retrieve runs get, gets, gat and gats. The keys are walked in place, not
// tokenized, so a line of many keys costs no allocation. A key over 250 bytes
// fails the whole command and withdraws the values already appended, as
// memcached does.
func (s *Session) retrieve(args, out []byte, withCAS, touch bool) []byte {
	start := len(out)
	var exptime int64
	if touch {
		var tok []byte
		tok, args = nextWord(args)
		if len(tok) == 0 {
			return append(out, replyError...)
		}
		var ok bool
		if exptime, ok = parseExptime(tok); !ok {
			return append(out, replyBadExptime...)
		}
	} else if len(bytes.TrimLeft(args, " ")) == 0 {
		return append(out, replyError...)
	}
	for {
		var key []byte
		key, args = nextWord(args)
		if len(key) == 0 {
			break
		}
		if len(key) > keyMax {
			return append(out[:start], replyBadFormat...)
		}
		v, ok := s.cache.store.Get(key, touch, exptime, s.sc.value)
		s.cache.recordGet(key, ok)
		s.logFetch(key, ok, len(v.Value))
		if !ok {
			continue
		}
		s.sc.value = v.Value
		out = appendValue(out, key, v, withCAS)
	}
	return append(out, "END\r\n"...)
}

// appendValue appends "VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n".
func appendValue(out, key []byte, v View, withCAS bool) []byte {
	out = append(out, "VALUE "...)
	out = append(out, key...)
	out = append(out, ' ')
	out = strconv.AppendUint(out, uint64(v.Flags), 10)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(len(v.Value)), 10)
	if withCAS {
		out = append(out, ' ')
		out = strconv.AppendUint(out, v.CAS, 10)
	}
	out = append(out, "\r\n"...)
	out = append(out, v.Value...)
	return append(out, "\r\n"...)
}

// storage runs set, add, replace, append, prepend and cas:
//
//	<cmd> <key> <flags> <exptime> <bytes> [noreply]
//	cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
//
// A malformed line is answered at once, without waiting for a data block
// (whose length cannot be trusted). A value over the item size limit is
// answered at once too, and its data block is discarded as it arrives.
func (s *Session) storage(mode Mode, toks [][]byte, after, out []byte) ([]byte, int, status) {
	isCAS := string(toks[0]) == "cas"
	words := 5
	if isCAS {
		words = 6
	}
	if len(toks) != words && len(toks) != words+1 {
		return append(out, replyError...), 0, done
	}
	quiet := noreply(toks)
	reply := func(r string) []byte { return s.quietly(out, quiet, r) }
	key := toks[1]
	if len(key) > keyMax {
		return reply(replyBadFormat), 0, done
	}
	flags, ok1 := parseUint(toks[2], 32)
	exptime, ok2 := parseExptime(toks[3])
	n, ok3 := parseInt32(toks[4])
	// memcached adds the "\r\n" to the length as an int: a length it
	// would overflow is refused as a bad command line.
	if !ok1 || !ok2 || !ok3 || n < 0 || n > math.MaxInt32-2 {
		return reply(replyBadFormat), 0, done
	}
	req := SetReq{Mode: mode, Flags: uint32(flags), Exptime: exptime}
	if isCAS {
		cas, ok := parseUint(toks[5], 64)
		if !ok {
			return reply(replyBadFormat), 0, done
		}
		req.HasCAS, req.CAS = true, cas
	}
	s.cache.recordSet(key)
	if !s.cache.store.Fits(key, int(n), req.Flags) {
		s.cache.storeTooLarge.Add(1)
		if mode == ModeSet {
			s.cache.store.Drop(key)
		}
		s.swallow = n + 2
		return reply(replyTooLarge), 0, done
	}
	if int64(len(after)) < n+2 {
		return out, 0, needMore
	}
	if after[n] != '\r' || after[n+1] != '\n' {
		return reply(replyBadChunk), int(n) + 2, done
	}
	s.logFetchOf(key)
	res, _ := s.cache.store.Set(key, after[:n], req)
	s.cache.countFailure(res)
	s.logStore(storeCmd(req), key, res, exptime, int(n))
	return reply(storageReply(res)), int(n) + 2, done
}

func storageReply(r Result) string {
	switch r {
	case Stored:
		return "STORED\r\n"
	case NotStored:
		return "NOT_STORED\r\n"
	case Exists:
		return "EXISTS\r\n"
	case NotFound:
		return "NOT_FOUND\r\n"
	case TooLarge:
		return replyTooLarge
	}
	return replyNoMemory
}

// delete runs "delete <key> [0] [noreply]"; the 0 is a relic of the removed
// hold time that memcached still accepts.
func (s *Session) delete(toks [][]byte, out []byte) []byte {
	if len(toks) < 2 || len(toks) > 4 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	if len(toks) > 2 {
		zero := string(toks[2]) == "0"
		valid := (len(toks) == 3 && (zero || quiet)) || (len(toks) == 4 && zero && quiet)
		if !valid {
			return s.quietly(out, quiet, replyDeleteUsage)
		}
	}
	if len(toks[1]) > keyMax {
		return s.quietly(out, quiet, replyBadFormat)
	}
	s.cache.recordDelete(toks[1])
	s.logFetchOf(toks[1])
	if s.cache.store.Delete(toks[1], false, 0) == NotFound {
		return s.quietly(out, quiet, "NOT_FOUND\r\n")
	}
	return s.quietly(out, quiet, "DELETED\r\n")
}

// quietly appends the reply r unless the command had noreply; then r is
// kept for the verbose log, where memcached writes it as NOREPLY.
func (s *Session) quietly(out []byte, quiet bool, r string) []byte {
	if quiet {
		s.suppressed = r
		return out
	}
	return append(out, r...)
}

// delta runs "incr|decr <key> <value> [noreply]".
func (s *Session) delta(toks [][]byte, out []byte) []byte {
	if len(toks) != 3 && len(toks) != 4 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	if len(toks[1]) > keyMax {
		return s.quietly(out, quiet, replyBadFormat)
	}
	d, ok := parseUint(toks[2], 64)
	if !ok {
		return s.quietly(out, quiet, replyBadDelta)
	}
	s.logFetchOf(toks[1])
	res, v := s.cache.store.Delta(toks[1], DeltaReq{Incr: string(toks[0]) == "incr", Delta: d})
	switch res {
	case NotFound:
		return s.quietly(out, quiet, "NOT_FOUND\r\n")
	case NonNumeric:
		return s.quietly(out, quiet, replyNonNumeric)
	case Stored:
		if quiet {
			return out
		}
		out = append(out, v.Value...)
		return append(out, "\r\n"...)
	}
	return s.quietly(out, quiet, replyNoMemory)
}

// touch runs "touch <key> <exptime> [noreply]".
func (s *Session) touch(toks [][]byte, out []byte) []byte {
	if len(toks) != 3 && len(toks) != 4 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	if len(toks[1]) > keyMax {
		return s.quietly(out, quiet, replyBadFormat)
	}
	exptime, ok := parseExptime(toks[2])
	if !ok {
		return s.quietly(out, quiet, replyBadExptime)
	}
	s.logFetchOf(toks[1])
	if s.cache.store.Touch(toks[1], exptime, true) == NotFound {
		return s.quietly(out, quiet, "NOT_FOUND\r\n")
	}
	return s.quietly(out, quiet, "TOUCHED\r\n")
}

// flushAll runs "flush_all [delay] [noreply]".
func (s *Session) flushAll(toks [][]byte, out []byte) []byte {
	if len(toks) > 3 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	if s.cache.settings.FlushOff {
		// Counted all the same, as memcached counts a refused flush_all.
		s.cache.store.flushCmds.Add(1)
		return s.quietly(out, quiet, "CLIENT_ERROR flush_all not allowed\r\n")
	}
	var delay int64
	args := toks[1:]
	if quiet {
		args = args[:len(args)-1]
	}
	if len(args) > 1 {
		return append(out, replyError...)
	}
	if len(args) == 1 {
		var ok bool
		if delay, ok = parseExptime(args[0]); !ok {
			return s.quietly(out, quiet, replyBadExptime)
		}
	}
	s.cache.store.Flush(delay)
	return s.quietly(out, quiet, "OK\r\n")
}

// verbosity runs "verbosity <level> [noreply]"; the level is kept for stats
// settings (the server's own logging level is set by -v at start).
func (s *Session) verbosity(toks [][]byte, out []byte) []byte {
	if len(toks) != 2 && len(toks) != 3 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	level, ok := parseUint(toks[1], 32)
	if !ok {
		return s.quietly(out, quiet, replyBadFormat)
	}
	s.cache.verbosity.Store(int32(min(level, 2)))
	return s.quietly(out, quiet, "OK\r\n")
}
