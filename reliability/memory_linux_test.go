package reliability

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFillMemoryLikeMemcached fills handoffd and Debian's memcached, both
// -m 32, with 1,000-byte values three times over, and compares what each
// then holds: handoffd's store must stay within -m in its own accounting
// (limit_maxbytes, bytes), hold at least as many items as memcached, and be
// resident in no more than memcached's memory plus the Go runtime's fixed
// few MiB. The store that kept items on the Go heap was resident in twice
// -m, and fails this.
func TestFillMemoryLikeMemcached(t *testing.T) {
	m, err := StartMemcached("-m", "32", "-t", "2")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("memcached not installed (make deps installs it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	d := startPlainDaemon(t, Options{Args: []string{"-m", "32", "-t", "2"}})
	type figures struct {
		rss, items, bytes, limit int64
	}
	fill := func(addr string, pid int) figures {
		t.Helper()
		c, err := Dial(addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		value := strings.Repeat("v", 1000)
		var batch strings.Builder
		for i := range 3 * 32 << 10 { // 96 MiB of values into -m 32
			fmt.Fprintf(&batch, "set fill:%d 0 0 %d noreply\r\n%s\r\n", i, len(value), value)
			if batch.Len() > 64<<10 {
				if err := c.send([]byte(batch.String())); err != nil {
					t.Fatal(err)
				}
				batch.Reset()
			}
		}
		if err := c.send([]byte(batch.String())); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Version(); err != nil { // every set before it is done
			t.Fatal(err)
		}
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ReadProc(pid)
		if err != nil {
			t.Fatal(err)
		}
		return figures{p.RSS, int64(st.Uint("curr_items")), int64(st.Uint("bytes")), int64(st.Uint("limit_maxbytes"))}
	}
	mf := fill(m.Addr, m.PID())
	_, haddr := SplitAddr(d.Addr)
	hf := fill(haddr, d.Pid)
	t.Logf("memcached: %d items, RSS %.1f MiB; handoffd: %d items, RSS %.1f MiB", mf.items, float64(mf.rss)/(1<<20), hf.items, float64(hf.rss)/(1<<20))
	if hf.limit != 32<<20 || hf.bytes > hf.limit {
		t.Errorf("handoffd: bytes %d, limit_maxbytes %d: over -m 32", hf.bytes, hf.limit)
	}
	if hf.items < mf.items {
		t.Errorf("handoffd holds %d items, memcached %d", hf.items, mf.items)
	}
	// The Go runtime and binary are resident in about 2 MiB more than
	// memcached's C runtime, whatever -m; the store itself in no more than
	// its pages. (Items on the Go heap cost -m more again, and garbage from
	// held input up to the collector's 4 MiB first goal.)
	if slack := int64(4 << 20); hf.rss > mf.rss+slack {
		t.Errorf("handoffd resident in %.1f MiB, memcached %.1f: more than %d MiB over", float64(hf.rss)/(1<<20), float64(mf.rss)/(1<<20), slack>>20)
	}
}
