package memcache

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// runCmds feeds in to a new connection of cache and returns the replies.
func runCmds(t *testing.T, s *Session, in string) string {
	t.Helper()
	n, out, _ := s.Process([]byte(in), nil, 1<<30)
	if n != len(in) {
		t.Fatalf("consumed %d of %d", n, len(in))
	}
	return string(out)
}

// statsOf parses "STAT name value" lines up to END.
func statsOf(t *testing.T, reply string) map[string]string {
	t.Helper()
	if !strings.HasSuffix(reply, "END\r\n") {
		t.Fatalf("stats reply without END: %q", reply)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(reply, "END\r\n"), "\r\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("bad stats line %q", l)
		}
		m[f[1]] = f[2]
	}
	return m
}

// TestStatsNamesAndCounts: stats carries memcached's names, so monitoring
// that reads memcached reads these, and the counters count what memcached
// counts (cmd_get per key, hits and misses apart).
func TestStatsNamesAndCounts(t *testing.T) {
	clock := &fakeClock{now: transcriptEpoch}
	st, _ := NewStore(StoreConfig{Clock: clock.Now})
	cache := NewCache(st, Settings{Threads: 4, MaxConns: 1024}, func() ConnStats {
		return ConnStats{CurrConns: 3, TotalConns: 9, Rejected: 2, ListenDisabled: 1, ConnStructures: 3}
	})
	s := cache.NewSession()
	runCmds(t, s, "set a 0 0 1\r\n1\r\nset b 0 0 1\r\n2\r\nget a b c\r\nincr a 1\r\ndelete b\r\nflush_all 100\r\n")
	clock.now += 7
	stats := statsOf(t, runCmds(t, s, "stats\r\n"))
	for _, name := range []string{"pid", "uptime", "time", "version", "curr_connections", "total_connections",
		"rejected_connections", "connection_structures", "listen_disabled_num", "threads", "goroutines", "cmd_get", "cmd_set",
		"get_hits", "get_misses", "curr_items", "total_items", "evictions", "bytes", "limit_maxbytes",
		"rusage_user", "rusage_system", "cmd_flush", "delete_hits", "incr_hits", "max_connections"} {
		if _, ok := stats[name]; !ok {
			t.Errorf("stats lacks %s", name)
		}
	}
	for name, want := range map[string]string{
		"cmd_get": "3", "get_hits": "2", "get_misses": "1", "cmd_set": "2", "curr_items": "1",
		"total_items": "2", "delete_hits": "1", "incr_hits": "1", "cmd_flush": "1", "uptime": "7",
		"time": strconv.Itoa(transcriptEpoch + 7), "curr_connections": "3", "total_connections": "9",
		"rejected_connections": "2", "listen_disabled_num": "1", "threads": "4", "limit_maxbytes": "67108864",
		"bytes": strconv.FormatInt(itemSize(1, 1), 10),
	} {
		if stats[name] != want {
			t.Errorf("stat %s = %q, want %q", name, stats[name], want)
		}
	}
	// goroutines, handoff's extension, is the process's live count: it is
	// about fifty higher while fifty more goroutines are parked than after
	// they exit, or a soak watching it for a leak would watch a constant.
	// (Measured while parked, then after, so that goroutines of earlier
	// tests still winding down can only widen the gap; the runtime's own,
	// started in between, can narrow it by a few, hence the margin.)
	goroutines := func() int {
		stats := statsOf(t, runCmds(t, s, "stats\r\n"))
		g, err := strconv.Atoi(stats["goroutines"])
		if err != nil || g < 1 {
			t.Fatalf("goroutines %q is not a positive count", stats["goroutines"])
		}
		return g
	}
	park := make(chan struct{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { <-park })
	}
	during := goroutines()
	close(park)
	wg.Wait()
	if after := goroutines(); during < after+45 {
		t.Errorf("goroutines %d with fifty more parked, %d after they exit", during, after)
	}
	if !regexp.MustCompile(`^\d+\.\d{6}$`).MatchString(stats["rusage_user"]) {
		t.Errorf("rusage_user %q is not seconds.microseconds", stats["rusage_user"])
	}

	if got := runCmds(t, s, "stats reset\r\n"); got != "RESET\r\n" {
		t.Fatalf("stats reset: %q", got)
	}
	stats = statsOf(t, runCmds(t, s, "stats\r\n"))
	if stats["cmd_get"] != "0" || stats["curr_items"] != "1" {
		t.Errorf("after reset: cmd_get %s (want 0), curr_items %s (want 1: state is not reset)", stats["cmd_get"], stats["curr_items"])
	}
}

func TestStatsGroups(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	set := statsOf(t, runCmds(t, s, "stats settings\r\n"))
	if set["maxbytes"] != "67108864" || set["item_size_max"] != "1048576" || set["cas_enabled"] != "yes" {
		t.Errorf("stats settings: %v", set)
	}
	if got := runCmds(t, s, "stats items\r\n"); got != "END\r\n" {
		t.Errorf("stats items of an empty cache: %q", got)
	}
	runCmds(t, s, "set k1 0 0 3\r\nabc\r\nset k2 0 1800000100 1\r\nx\r\n")
	items := statsOf(t, runCmds(t, s, "stats items\r\n"))
	if items["items:1:number"] != "2" {
		t.Errorf("stats items: %v", items)
	}
	slabs := statsOf(t, runCmds(t, s, "stats slabs\r\n"))
	if slabs["active_slabs"] != "1" || slabs["1:used_chunks"] != "2" {
		t.Errorf("stats slabs: %v", slabs)
	}
	dump := runCmds(t, s, "stats cachedump 1 0\r\n")
	for _, want := range []string{"ITEM k1 [3 b; 0 s]\r\n", "ITEM k2 [1 b; 1800000100 s]\r\n"} {
		if !strings.Contains(dump, want) {
			t.Errorf("cachedump %q lacks %q", dump, want)
		}
	}
	if got := runCmds(t, s, "stats cachedump 1 1\r\n"); strings.Count(got, "ITEM ") != 1 {
		t.Errorf("cachedump limit 1: %q", got)
	}
	for in, want := range map[string]string{
		"stats sizes\r\n":       "STAT sizes_status disabled\r\nEND\r\n",
		"stats nonsense\r\n":    "ERROR\r\n",
		"stats cachedump 1\r\n": "ERROR\r\n",
	} {
		if got := runCmds(t, s, in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if msg := checkReplies(bytes.Clone([]byte(dump))); msg != "" {
		t.Error(msg)
	}
}

// TestTotalItemsCountsStores: total_items counts the items stored, as
// memcached's does: an incr that rewrites its number in place stores none,
// one that makes the number longer stores a new item, and so does ma's N.
func TestTotalItemsCountsStores(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	for _, c := range []struct {
		cmds, want string
	}{
		{"set a 0 0 1\r\n1\r\nincr a 1\r\n", "1"},
		{"incr a 100000\r\n", "2"},
		{"ma zz N0\r\n", "3"},
	} {
		runCmds(t, s, c.cmds)
		if got := statsOf(t, runCmds(t, s, "stats\r\n"))["total_items"]; got != c.want {
			t.Errorf("after %q: total_items %s, want %s (memcached's figure)", c.cmds, got, c.want)
		}
	}
}

// TestTouchingGetsCountAsTouches: gat, gats and mg with T count in
// cmd_touch and touch_hits or touch_misses only, not as gets, as memcached's
// counters do; a plain get counts as a get.
func TestTouchingGetsCountAsTouches(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	runCmds(t, s, "set c 0 0 1\r\nx\r\ngat 10 c\r\ngats 10 zz\r\nmg c T10 v\r\nget c\r\n")
	stats := statsOf(t, runCmds(t, s, "stats\r\n"))
	for name, want := range map[string]string{"cmd_get": "1", "get_hits": "1", "get_misses": "0", "cmd_touch": "3", "touch_hits": "2", "touch_misses": "1"} {
		if stats[name] != want {
			t.Errorf("%s = %s, want %s (memcached's figure)", name, stats[name], want)
		}
	}
}
