package memcache

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestFillAccountedAgainstLimit fills a cache of -m 2 MiB with five times
// that in a mix of every command that changes an item's size (set, add,
// append, prepend, incr, delete), and after every command checks the
// accounting: the store's invariants hold (checkStore: every chunk of every
// page accounted for, the pages within -m), the bytes stat is exactly what
// the items take, never over limit_maxbytes, curr_items is their count, an
// item just stored is there (a store evicts others, never itself), and an
// eviction happens only when every page was in use.
func TestFillAccountedAgainstLimit(t *testing.T) {
	const limit = 2 << 20
	clock := &fakeClock{now: transcriptEpoch}
	st, err := NewStore(StoreConfig{MaxBytes: limit, ItemMax: 64 << 10, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s := NewCache(st, Settings{}, nil).NewSession()
	rng := rand.New(rand.NewPCG(1, 2))
	written := 0
	for step := 0; written < 5*limit; step++ {
		key := fmt.Sprintf("key:%d", rng.IntN(2000))
		size := rng.IntN(20000)
		var cmd string
		switch op := rng.IntN(10); {
		case op < 5:
			cmd = fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, size, make([]byte, size))
		case op == 5:
			cmd = fmt.Sprintf("add %s 0 0 %d\r\n%s\r\n", key, size, make([]byte, size))
		case op == 6:
			size /= 8
			cmd = fmt.Sprintf("append %s 0 0 %d\r\n%s\r\n", key, size, make([]byte, size))
		case op == 7:
			size /= 8
			cmd = fmt.Sprintf("prepend %s 0 0 %d\r\n%s\r\n", key, size, make([]byte, size))
		case op == 8:
			size = 20 // 9 becomes the 20 digits of 2^64-1
			cmd = fmt.Sprintf("set %s 0 0 1\r\n9\r\nincr %s 18446744073709551606\r\n", key, key)
		default:
			size = 0
			cmd = fmt.Sprintf("delete %s\r\n", key)
		}
		written += size
		before := st.Stats()
		reply := runCmds(t, s, cmd)
		what := fmt.Sprintf("step %d (%.40q -> %q)", step, cmd, reply)

		after := st.Stats()
		bytes, items := checkStore(t, st, what)
		stats := statsOf(t, runCmds(t, s, "stats\r\n"))
		if stats["bytes"] != strconv.FormatInt(bytes, 10) || after.Bytes != bytes {
			t.Fatalf("after %s: stat bytes %s, Stats().Bytes %d; the items take %d", what, stats["bytes"], after.Bytes, bytes)
		}
		if max, _ := strconv.ParseInt(stats["limit_maxbytes"], 10, 64); bytes > max || max != limit {
			t.Fatalf("after %s: bytes %d, limit_maxbytes %s (-m %d)", what, bytes, stats["limit_maxbytes"], limit)
		}
		if stats["curr_items"] != strconv.FormatInt(items, 10) {
			t.Fatalf("after %s: curr_items %s, %d items", what, stats["curr_items"], items)
		}
		if strings.HasPrefix(reply, "STORED\r\n") {
			if _, ok := st.Peek([]byte(key), nil); !ok {
				t.Fatalf("after %s: the item just stored is gone", what)
			}
		}
		if evicted := after.Evictions() - before.Evictions(); evicted > 0 && before.Pages < int64(st.npages) {
			t.Fatalf("after %s: %d evictions, though %d of %d pages were never used", what, evicted, int64(st.npages)-before.Pages, st.npages)
		}
	}
	if final := st.Stats(); final.Evictions() == 0 {
		t.Fatal("five times -m written and nothing evicted: the fill never reached the limit")
	}
}
