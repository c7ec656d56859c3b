package memcache

import (
	"bytes"
	"strconv"
)

// The administrative commands an operator's tools send: shutdown (with -A)
// and lru_crawler metadump, which memcached-tool dump reads.

// shutdown runs "shutdown [graceful]": refused unless Settings.Shutdown is
// set (memcached's -A); otherwise the connection is closed and the server
// asked to stop. Both modes stop it gracefully: every connection's output
// is flushed and each is closed (memcached's plain shutdown does not wait).
func (s *Session) shutdown(toks [][]byte, out []byte) ([]byte, status) {
	stop := s.cache.settings.Shutdown
	switch {
	case stop == nil:
		return append(out, "ERROR: shutdown not enabled\r\n"...), done
	case len(toks) == 1, len(toks) == 2 && string(toks[1]) == "graceful":
		stop()
		s.quit = true
		return out, closeNow
	}
	return append(out, "CLIENT_ERROR invalid shutdown mode\r\n"...), done
}

// lruCrawler runs memcached's lru_crawler commands. "metadump all" (or
// "hash", or of some classes) writes a line per live item in memcached's form, "key=K
// exp=E la=L cas=C fetch=yes|no cls=N size=S" ended by a bare newline as
// memcached's are, with the key URI-encoded and the times absolute (-1: no
// expiry), then END. "crawl" reclaims the classes' expired items in the
// background (Store.ReapClasses); "enable" and "disable" start and stop
// the periodic one; "tocrawl" and "sleep" are checked as memcached checks
// them and change nothing.
func (s *Session) lruCrawler(toks [][]byte, out []byte) []byte {
	cache := s.cache
	if len(toks) == 2 {
		switch string(toks[1]) {
		case "enable":
			cache.crawlerOff.Store(false)
			return append(out, "OK\r\n"...)
		case "disable":
			cache.crawlerOff.Store(true)
			return append(out, "OK\r\n"...)
		}
		return append(out, replyError...)
	}
	if len(toks) != 3 {
		return append(out, replyError...)
	}
	switch string(toks[1]) {
	case "tocrawl":
		// handoff's crawl always covers a whole class: the limit is
		// accepted and has no effect.
		if _, ok := parseUint(toks[2], 32); !ok {
			return append(out, replyBadFormat...)
		}
		return append(out, "OK\r\n"...)
	case "sleep":
		// Reap pauses between batches by releasing its locks, not by
		// sleeping; the setting is checked and accepted.
		us, ok := parseUint(toks[2], 32)
		switch {
		case !ok:
			return append(out, replyBadFormat...)
		case us > 1_000_000:
			return append(out, "CLIENT_ERROR sleep must be one second or less\r\n"...)
		}
		return append(out, "OK\r\n"...)
	case "crawl", "metadump":
	default:
		return append(out, replyError...)
	}
	if cache.crawlerOff.Load() {
		return append(out, "CLIENT_ERROR lru crawler disabled\r\n"...)
	}
	if string(toks[1]) == "metadump" {
		switch {
		case cache.settings.NoDump:
			return append(out, "ERROR metadump not allowed\r\n"...)
		case len(out) > s.flushed:
			// As memcached: the dump streams, and must not follow
			// replies not yet sent.
			return append(out, "ERROR cannot pipeline other commands before metadump\r\n"...)
		}
	}
	arg := toks[2]
	if string(toks[1]) == "metadump" && string(arg) == "hash" {
		// memcached walks its hash table for "hash", every item once, as
		// a dump of all classes does here.
		arg = []byte("all")
	}
	classes, ok := s.classList(arg)
	if !ok {
		return append(out, "BADCLASS invalid class id\r\n"...)
	}
	if string(toks[1]) == "crawl" {
		// In the background, as memcached's crawler thread does; one at a
		// time.
		if !cache.crawling.CompareAndSwap(false, true) {
			return append(out, "BUSY currently processing crawler request\r\n"...)
		}
		go func() {
			defer cache.crawling.Store(false)
			if classes[0] == 0 {
				classes = nil
			}
			cache.store.ReapClasses(classes)
		}()
		return append(out, "OK\r\n"...)
	}
	out = s.metadump(classes, out)
	s.flushed = len(out) // the connection waits for its dump to be sent
	return out
}

// classList parses "all" (returned as [0]) or a comma-separated list of
// class ids, as memcached's crawler takes them.
func (s *Session) classList(arg []byte) ([]int, bool) {
	if string(arg) == "all" {
		return []int{0}, true
	}
	var classes []int
	for id := range bytes.SplitSeq(arg, []byte(",")) {
		n, ok := parseUint(id, 8)
		if !ok || n == 0 || n >= uint64(len(s.cache.store.classes)) {
			return nil, false
		}
		classes = append(classes, int(n))
	}
	return classes, true
}

// metadump writes a line per live item of the classes (0: all) in
// memcached's metadump form, then END.
func (s *Session) metadump(classes []int, out []byte) []byte {
	for _, cls := range classes {
		s.cache.store.dump(cls, func(m *ItemMeta) bool {
			out = append(out, "key="...)
			out = appendURIEncoded(out, m.Key)
			out = append(out, " exp="...)
			if m.Exptime == 0 {
				out = append(out, "-1"...)
			} else {
				out = strconv.AppendInt(out, m.Exptime, 10)
			}
			out = append(out, " la="...)
			out = strconv.AppendInt(out, m.Access, 10)
			out = append(out, " cas="...)
			out = strconv.AppendUint(out, m.CAS, 10)
			out = append(out, " fetch="...)
			out = append(out, yesNo(m.Fetched)...)
			out = append(out, " cls="...)
			out = strconv.AppendInt(out, int64(m.Class), 10)
			out = append(out, " size="...)
			out = strconv.AppendInt(out, itemTotal(len(m.Key), m.Size, m.Flags), 10)
			out = append(out, '\n')
			return true
		})
	}
	return append(out, "END\r\n"...)
}

// slabs runs "slabs reassign <src> <dst>" and "slabs automove <0|1|2>" or
// "slabs automove ratio <r>", with memcached's replies.
func (s *Session) slabs(toks [][]byte, out []byte) []byte {
	st := s.cache.store
	switch {
	case len(toks) == 4 && string(toks[1]) == "reassign":
		src, ok1 := parseInt(toks[2], 31)
		dst, ok2 := parseInt(toks[3], 31)
		if !ok1 || !ok2 {
			return append(out, replyBadFormat...)
		}
		switch st.Reassign(int(src), int(dst)) {
		case ReassignOK:
			return append(out, "OK\r\n"...)
		case ReassignBusy:
			return append(out, "BUSY currently processing reassign request\r\n"...)
		case ReassignBadClass:
			return append(out, "BADCLASS invalid src or dst class id\r\n"...)
		case ReassignNoSpare:
			return append(out, "NOSPARE source class has no spare pages\r\n"...)
		default:
			return append(out, "SAME src and dst class are identical\r\n"...)
		}
	case len(toks) >= 3 && string(toks[1]) == "automove":
		quiet := noreply(toks)
		if string(toks[2]) == "ratio" {
			if len(toks) < 4 {
				return s.quietly(out, quiet, replyError)
			}
			r, err := strconv.ParseFloat(string(toks[3]), 64)
			if err != nil {
				return s.quietly(out, quiet, replyError)
			}
			st.SetAutomoveRatio(r)
			return s.quietly(out, quiet, "OK\r\n")
		}
		level, ok := parseUint(toks[2], 32)
		switch {
		case !ok:
			return s.quietly(out, quiet, replyBadFormat)
		case level > 2:
			return s.quietly(out, quiet, replyError)
		}
		st.SetAutomove(int(level))
		return s.quietly(out, quiet, "OK\r\n")
	}
	return append(out, replyError...)
}

// cacheMemlimit runs "cache_memlimit <megabytes> [noreply]" with
// memcached's replies. The limit can go down, and back up to the -m the
// server started with, but not past it: the arena is mapped once, at -m.
func (s *Session) cacheMemlimit(toks [][]byte, out []byte) []byte {
	if len(toks) != 2 && len(toks) != 3 {
		return append(out, replyError...)
	}
	quiet := noreply(toks)
	mb, ok := parseUint(toks[1], 32)
	switch {
	case !ok:
		return s.quietly(out, quiet, replyError)
	case mb < 8:
		return s.quietly(out, quiet, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n")
	case mb > 1_000_000_000:
		return s.quietly(out, quiet, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n")
	case !s.cache.store.SetMaxBytes(int64(mb) << 20):
		return s.quietly(out, quiet, "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n")
	}
	return s.quietly(out, quiet, "OK\r\n")
}

// lru runs memcached's "lru tune|mode|temp_ttl ..." with its replies as
// memcached gives them without its LRU maintainer, which is what handoff's
// flat, exact LRU per class is: tune's values are checked and accepted
// (memcached's tune, too, changes nothing while its LRU is not segmented),
// and mode and temp_ttl, which need the maintainer, are refused.
func (s *Session) lru(toks [][]byte, out []byte) []byte {
	quiet := noreply(toks)
	if len(toks) >= 6 && string(toks[1]) == "tune" {
		hot, ok1 := parseUint(toks[2], 32)
		warm, ok2 := parseUint(toks[3], 32)
		hotFactor, err1 := strconv.ParseFloat(string(toks[4]), 64)
		warmFactor, err2 := strconv.ParseFloat(string(toks[5]), 64)
		switch {
		case !ok1 || !ok2 || err1 != nil || err2 != nil:
			return s.quietly(out, quiet, replyError)
		case uint32(hot+warm) > 80:
			return s.quietly(out, quiet, "ERROR hot and warm pcts must not exceed 80\r\n")
		case hotFactor <= 0 || warmFactor <= 0:
			return s.quietly(out, quiet, "ERROR hot/warm age factors must be greater than 0\r\n")
		}
		return s.quietly(out, quiet, "OK\r\n")
	}
	return s.quietly(out, quiet, replyError)
}

// appendURIEncoded appends key with every byte but letters, digits and
// "-._~" written %XX, as memcached's metadump writes keys.
func appendURIEncoded(out []byte, key []byte) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			out = append(out, c)
		default:
			out = append(out, '%', hex[c>>4], hex[c&15])
		}
	}
	return out
}
