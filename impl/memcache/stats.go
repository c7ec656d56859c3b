package memcache

import (
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"unsafe"
)

// stats runs "stats [group]" with memcached's stat names, so that tools which
// read memcached's stats (memcstat, monitoring agents) read these. The slab
// classes are real ones (see Store); the counters of memcached's segmented
// LRU, which handoff does not have, are reported as 0, nothing being hot,
// warm or moved, so that monitoring which reads them finds them.
func (s *Session) stats(args [][]byte, out []byte) []byte {
	if len(args) == 0 {
		return s.generalStats(out)
	}
	switch string(args[0]) {
	case "settings":
		return s.settingsStats(out)
	case "items":
		return s.itemStats(out)
	case "slabs":
		return s.slabStats(out)
	case "sizes":
		return append(out, "STAT sizes_status disabled\r\nEND\r\n"...)
	case "reset":
		s.resetStats()
		return append(out, "RESET\r\n"...)
	case "cachedump":
		return s.cachedump(args[1:], out)
	case "detail":
		return s.statsDetail(args[1:], out)
	case "conns":
		return s.connStats(out)
	}
	return append(out, replyError...)
}

// resetStats zeroes the counters stats reports and forgets the prefixes of
// stats detail, as memcached's stats reset does.
func (s *Session) resetStats() {
	s.cache.store.ResetCounters()
	s.cache.storeTooLarge.Store(0)
	s.cache.storeNoMemory.Store(0)
	s.cache.cmdMeta.Store(0)
	s.cache.clearPrefixes()
}

func stat(out []byte, name string, v uint64) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = strconv.AppendUint(out, v, 10)
	return append(out, "\r\n"...)
}

func statInt(out []byte, name string, v int64) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = strconv.AppendInt(out, v, 10)
	return append(out, "\r\n"...)
}

func statStr(out []byte, name, v string) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = append(out, v...)
	return append(out, "\r\n"...)
}

// rusage is seconds.microseconds of CPU time, as memcached prints it.
func rusage(out []byte, name string, sec, usec int64) []byte {
	out = append(out, "STAT "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = strconv.AppendInt(out, sec, 10)
	out = append(out, '.')
	us := strconv.AppendInt(nil, usec, 10)
	for i := len(us); i < 6; i++ {
		out = append(out, '0')
	}
	out = append(out, us...)
	return append(out, "\r\n"...)
}

func (s *Session) generalStats(out []byte) []byte {
	cache := s.cache
	st := cache.store.Stats()
	cs := (*cache.connStats.Load())()
	now := cache.store.Now()
	set := cache.settings
	out = statInt(out, "pid", int64(os.Getpid()))
	out = statInt(out, "uptime", now-cache.started.Unix())
	out = statInt(out, "time", now)
	out = statStr(out, "version", set.Version)
	out = statInt(out, "pointer_size", 64)
	if user, sys, ok := cpuTimes(); ok {
		out = rusage(out, "rusage_user", user.Sec, user.Usec)
		out = rusage(out, "rusage_system", sys.Sec, sys.Usec)
	}
	out = statInt(out, "max_connections", int64(set.MaxConns))
	out = statInt(out, "curr_connections", cs.CurrConns)
	out = stat(out, "total_connections", cs.TotalConns)
	out = stat(out, "rejected_connections", cs.Rejected)
	out = statInt(out, "connection_structures", cs.ConnStructures)
	out = statInt(out, "reserved_fds", int64(set.ReservedFDs))
	out = stat(out, "cmd_get", st.cmdGet)
	out = stat(out, "cmd_set", st.cmdSet)
	out = stat(out, "cmd_flush", st.CmdFlush)
	out = stat(out, "cmd_touch", st.cmdTouch)
	out = stat(out, "cmd_meta", cache.cmdMeta.Load())
	out = stat(out, "get_hits", st.getHits)
	out = stat(out, "get_misses", st.getMisses)
	out = stat(out, "get_expired", st.getExpired)
	out = stat(out, "get_flushed", st.getFlushed)
	out = stat(out, "delete_misses", st.deleteMisses)
	out = stat(out, "delete_hits", st.deleteHits)
	out = stat(out, "incr_misses", st.incrMisses)
	out = stat(out, "incr_hits", st.incrHits)
	out = stat(out, "decr_misses", st.decrMisses)
	out = stat(out, "decr_hits", st.decrHits)
	out = stat(out, "cas_misses", st.casMisses)
	out = stat(out, "cas_hits", st.casHits)
	out = stat(out, "cas_badval", st.casBadval)
	out = stat(out, "touch_hits", st.touchHits)
	out = stat(out, "touch_misses", st.touchMisses)
	out = stat(out, "store_too_large", cache.storeTooLarge.Load())
	out = stat(out, "store_no_memory", cache.storeNoMemory.Load())
	out = stat(out, "auth_cmds", 0)
	out = stat(out, "auth_errors", 0)
	if set.IdleTimeout > 0 {
		out = stat(out, "idle_kicks", cs.IdleKicks)
	}
	out = stat(out, "bytes_read", cs.BytesRead)
	out = stat(out, "bytes_written", cs.BytesWritten)
	out = statInt(out, "limit_maxbytes", cache.store.MaxBytes())
	out = stat(out, "accepting_conns", 1)
	out = stat(out, "listen_disabled_num", cs.ListenDisabled)
	out = stat(out, "time_in_listen_disabled_us", 0)
	out = statInt(out, "threads", int64(set.Threads))
	// goroutines is handoff's own figure (memcached has none): the soak
	// watches it for a leak, which threads, the worker count, cannot show.
	out = statInt(out, "goroutines", int64(runtime.NumGoroutine()))
	// io is handoff's too: the backend in use (-io), which -io auto
	// chooses by what the kernel allows.
	if cs.IO != "" {
		out = statStr(out, "io", cs.IO)
	}
	out = stat(out, "conn_yields", cache.connYields.Load())
	// The hash table: memcached's is one table of 2^hash_power_level
	// pointers; handoff's is a table per shard, each a power of two, so
	// the level is that of their sum. A table grows under its shard's
	// mutex, never in the background: hash_is_expanding stays 0.
	out = statInt(out, "hash_power_level", int64(bits.Len64(uint64(st.Buckets))-1))
	out = statInt(out, "hash_bytes", st.Buckets*int64(unsafe.Sizeof(ref(0))))
	out = stat(out, "hash_is_expanding", 0)
	// handoff's page mover evicts a page's items, never copies them to
	// another chunk (rescues 0), and needs no inline reclaim or deletes.
	out = stat(out, "slab_reassign_rescues", 0)
	out = stat(out, "slab_reassign_chunk_rescues", 0)
	out = stat(out, "slab_reassign_evictions_nomem", st.moveEvicted)
	out = stat(out, "slab_reassign_inline_reclaim", 0)
	out = stat(out, "slab_reassign_busy_items", st.moveBusy)
	out = stat(out, "slab_reassign_busy_deletes", 0)
	out = stat(out, "slab_reassign_running", b2u(st.Moving))
	out = stat(out, "slabs_moved", st.reassigned)
	if !cache.crawlerOff.Load() {
		// An accepted crawl counts from its OK, before its goroutine
		// begins the sweep: a client that polls for its end sees it.
		out = stat(out, "lru_crawler_running", b2u(st.Crawling || cache.crawling.Load()))
		out = stat(out, "lru_crawler_starts", st.Crawls)
	}
	// The arena is mapped once at start: no allocation at run time can
	// fail.
	out = stat(out, "malloc_fails", 0)
	out = s.cache.watchers.stats(out)
	// Without memcached's NAPI-id worker selection (-N), nothing falls
	// back to round robin and no id is unexpected.
	out = stat(out, "unexpected_napi_ids", 0)
	out = stat(out, "round_robin_fallback", 0)
	out = statInt(out, "bytes", st.Bytes)
	out = statInt(out, "curr_items", st.CurrItems)
	out = stat(out, "total_items", st.totalItems)
	// memcached's class 0, the global page pool, is no class here.
	out = stat(out, "slab_global_page_pool", 0)
	out = stat(out, "expired_unfetched", st.expiredUnfetched)
	out = stat(out, "evicted_unfetched", st.evictedUnfetched)
	out = stat(out, "evicted_active", 0)
	out = stat(out, "evictions", st.evictions)
	out = stat(out, "reclaimed", st.reclaimed)
	out = stat(out, "crawler_reclaimed", st.crawlerReclaimed)
	out = stat(out, "crawler_items_checked", st.crawlerChecked)
	// Nothing holds an item at the LRU's tail by reference: a reply
	// copies the value out under the shard's mutex.
	out = stat(out, "lrutail_reflocked", 0)
	// The segmented LRU's moves: handoff's LRU per class is flat, so none.
	out = stat(out, "moves_to_cold", 0)
	out = stat(out, "moves_to_warm", 0)
	out = stat(out, "moves_within_lru", 0)
	out = stat(out, "direct_reclaims", 0)
	out = stat(out, "lru_bumps_dropped", 0)
	return append(out, "END\r\n"...)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (s *Session) settingsStats(out []byte) []byte {
	cache := s.cache
	set := cache.settings
	out = statInt(out, "maxbytes", cache.store.MaxBytes())
	out = statInt(out, "maxconns", int64(set.MaxConns))
	out = statInt(out, "tcpport", int64(set.TCPPort))
	out = statInt(out, "udpport", 0)
	inter := set.Inter
	if inter == "" {
		inter = "NULL"
	}
	out = statStr(out, "inter", inter)
	out = statInt(out, "verbosity", int64(cache.verbosity.Load()))
	out = statInt(out, "oldest", 0)
	evictions := "on"
	if cache.store.noEvict {
		evictions = "off"
	}
	out = statStr(out, "evictions", evictions)
	sock := set.DomainSocket
	if sock == "" {
		sock = "NULL"
	}
	out = statStr(out, "domain_socket", sock)
	mask := set.SocketMask
	if mask == 0 {
		mask = 0o700
	}
	out = statStr(out, "umask", strconv.FormatUint(uint64(mask), 8))
	out = statStr(out, "growth_factor", strconv.FormatFloat(cache.store.factor, 'f', 2, 64))
	out = statInt(out, "chunk_size", int64(cache.store.minChunk))
	out = statInt(out, "num_threads", int64(set.Threads))
	out = statStr(out, "stat_key_prefix", string(s.cache.settings.PrefixDelimiter))
	out = statStr(out, "detail_enabled", yesNo(s.cache.detail.on.Load()))
	out = statInt(out, "reqs_per_event", int64(set.ReqsPerEvent))
	out = statStr(out, "cas_enabled", yesNo(!cache.store.noCAS))
	out = statInt(out, "tcp_backlog", int64(set.Backlog))
	out = statStr(out, "binding_protocol", s.cache.settings.Binding.String())
	out = statStr(out, "auth_enabled_sasl", "no")
	out = statStr(out, "auth_enabled_ascii", "no")
	out = statInt(out, "item_size_max", int64(cache.store.itemMax))
	out = statStr(out, "maxconns_fast", "yes")
	out = statInt(out, "hashpower_init", 0)
	// Pages move between classes as memcached's automove 1 moves them, by
	// the age ratio of the classes' oldest items (see Store.alloc).
	out = statStr(out, "slab_reassign", "yes")
	out = statInt(out, "slab_automove", int64(cache.store.Automove()))
	out = statStr(out, "slab_automove_ratio", strconv.FormatFloat(cache.store.AutomoveRatio(), 'f', 2, 64))
	out = statInt(out, "slab_chunk_max", int64(cache.store.pageSize))
	out = statStr(out, "lru_crawler", yesNo(!cache.crawlerOff.Load()))
	// The crawl neither sleeps (it yields by releasing its locks) nor stops
	// short of a whole class: memcached's 0 for tocrawl is that, no limit.
	out = statInt(out, "lru_crawler_sleep", 0)
	out = statInt(out, "lru_crawler_tocrawl", 0)
	out = statStr(out, "flush_enabled", yesNo(!set.FlushOff))
	out = statStr(out, "dump_enabled", yesNo(!set.NoDump))
	out = statStr(out, "shutdown_command", yesNo(set.Shutdown != nil))
	out = statStr(out, "hash_algorithm", "maphash")
	out = statStr(out, "lru_maintainer_thread", "no")
	out = statStr(out, "lru_segmented", "no")
	// No part of a class is kept for hot or warm items. (Their age factors,
	// hot_max_factor and warm_max_factor, have no counterpart, and are not
	// reported.)
	out = statInt(out, "hot_lru_pct", 0)
	out = statInt(out, "warm_lru_pct", 0)
	out = statStr(out, "temp_lru", "no")
	out = statInt(out, "idle_timeout", int64(set.IdleTimeout.Seconds()))
	wb := set.WatcherBuffer
	if wb <= 0 {
		wb = DefaultWatcherBuffer
	}
	out = statInt(out, "watcher_logbuf_size", int64(wb))
	out = statStr(out, "track_sizes", "no")
	out = statStr(out, "inline_ascii_response", "no")
	out = statInt(out, "store_shards", int64(cache.store.Shards()))
	return append(out, "END\r\n"...)
}

// itemStats reports each class that holds items, as memcached's stats
// items in its flat LRU mode: one LRU per class, so every item counts as
// cold and the segmented LRU's own counters are 0.
func (s *Session) itemStats(out []byte) []byte {
	now := s.cache.store.Now()
	for _, c := range s.cache.store.Classes() {
		if c.Used == 0 {
			continue
		}
		prefix := "items:" + strconv.Itoa(c.ID) + ":"
		for _, s := range []struct {
			name string
			v    int64
		}{
			{"number", int64(c.Used)}, {"number_hot", 0}, {"number_warm", 0}, {"number_cold", int64(c.Used)},
			{"age_hot", 0}, {"age_warm", 0}, {"age", now - c.TailAccess}, {"mem_requested", c.Requested},
			{"evicted", int64(c.evictions)}, {"evicted_nonzero", int64(c.evictedNonzero)}, {"evicted_time", c.evictedTime},
			{"outofmemory", int64(c.outOfMemory)}, {"tailrepairs", 0},
			{"reclaimed", int64(c.reclaimed)}, {"expired_unfetched", int64(c.expiredUnfetched)},
			{"evicted_unfetched", int64(c.evictedUnfetched)}, {"evicted_active", 0},
			{"crawler_reclaimed", int64(c.crawlerReclaimed)}, {"crawler_items_checked", int64(c.crawlerChecked)},
			{"lrutail_reflocked", 0}, {"moves_to_cold", 0}, {"moves_to_warm", 0},
			{"moves_within_lru", 0}, {"direct_reclaims", 0}, {"hits_to_hot", 0},
			{"hits_to_warm", 0}, {"hits_to_cold", int64(c.hits[hitGet])}, {"hits_to_temp", 0},
		} {
			out = statInt(out, prefix+s.name, s.v)
		}
	}
	return append(out, "END\r\n"...)
}

// slabStats reports each class that owns a page, in memcached's form: a
// chunk carved or not counts as free until an item takes it.
func (s *Session) slabStats(out []byte) []byte {
	classes := s.cache.store.Classes()
	for _, c := range classes {
		prefix := strconv.Itoa(c.ID) + ":"
		total := c.Pages * c.PerPage
		for _, s := range []struct {
			name string
			v    int64
		}{
			{"chunk_size", int64(c.ChunkSize)}, {"chunks_per_page", int64(c.PerPage)},
			{"total_pages", int64(c.Pages)}, {"total_chunks", int64(total)},
			{"used_chunks", int64(total - c.Free - c.FreeEnd)}, {"free_chunks", int64(c.Free + c.FreeEnd)},
			{"free_chunks_end", 0},
		} {
			out = statInt(out, prefix+s.name, s.v)
		}
		for k := hitGet; k < numHits; k++ {
			out = stat(out, prefix+hitNames[k], c.hits[k])
		}
	}
	out = statInt(out, "active_slabs", int64(len(classes)))
	out = statInt(out, "total_malloced", s.cache.store.Stats().Pages*int64(s.cache.store.pageSize))
	return append(out, "END\r\n"...)
}

// cachedump runs "stats cachedump <class> <limit>" (memcdump lists keys with
// it): "ITEM <key> [<bytes> b; <exptime> s]" per item of class 1, at most
// limit items (0: all, capped at 2 MB of output as memcached caps it).
func (s *Session) cachedump(args [][]byte, out []byte) []byte {
	if s.cache.settings.NoDump {
		return append(out, "CLIENT_ERROR stats cachedump not allowed\r\n"...)
	}
	if len(args) != 2 {
		return append(out, replyError...)
	}
	class, ok1 := parseUint(args[0], 32)
	limit, ok2 := parseUint(args[1], 32)
	if !ok1 || !ok2 {
		return append(out, replyBadFormat...)
	}
	if class == 0 || class >= uint64(len(s.cache.store.classes)) {
		return append(out, "END\r\n"...)
	}
	start, n := len(out), uint64(0)
	s.cache.store.dump(int(class), func(m *ItemMeta) bool {
		out = append(out, "ITEM "...)
		out = append(out, m.Key...)
		out = append(out, " ["...)
		out = strconv.AppendInt(out, int64(m.Size), 10)
		out = append(out, " b; "...)
		out = strconv.AppendInt(out, m.Exptime, 10)
		out = append(out, " s]\r\n"...)
		n++
		return (limit == 0 || n < limit) && len(out)-start < 2<<20
	})
	return append(out, "END\r\n"...)
}
