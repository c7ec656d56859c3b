package main

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// statsAbsent are memcached's stats keys handoffd does not report, with the
// reason: each names a part of memcached handoffd has no counterpart of, so
// any figure would be made up. The per-class keys are written with * for
// the class.
var statsAbsent = map[string]string{
	"libevent":               "no libevent: the reactor is handoff's own, on epoll",
	"read_buf_count":         "memcached's pool of read buffers per worker thread; a handoffd connection holds input only while a request is incomplete",
	"read_buf_bytes":         "memcached's pool of read buffers per worker thread",
	"read_buf_bytes_free":    "memcached's pool of read buffers per worker thread",
	"read_buf_oom":           "memcached's pool of read buffers per worker thread, and its memory limit",
	"response_obj_count":     "memcached's pool of response objects; handoffd writes replies into one buffer per Worker",
	"response_obj_bytes":     "memcached's pool of response objects",
	"response_obj_oom":       "memcached's pool of response objects, and its memory limit",
	"lru_maintainer_juggles": "no LRU maintainer thread (stats settings: lru_maintainer_thread no)",
}

// statsOwn are handoffd's keys memcached does not have.
var statsOwn = map[string]string{
	"goroutines": "the Go runtime's count, which a soak watches for a leak",
	"io":         "the server core's backend, epoll or uring (-io)",
}

// classKey writes a per-class key with * for its class: "items:3:number"
// is "items:*:number", "3:chunk_size" is "*:chunk_size".
var classKey = regexp.MustCompile(`(^|:)\d+:`)

// statKeys returns the keys of "stats group" at addr in the order sent,
// each per-class key once.
func statKeys(t *testing.T, addr, group string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "set statkey 0 0 3\r\nabc\r\nget statkey\r\nstats %s\r\n", group)
	r := bufio.NewReader(c)
	var keys []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stats %s at %s: %v", group, addr, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "END" && keys != nil {
			return keys
		}
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "STAT" {
			continue // the set's and get's replies
		}
		k := classKey.ReplaceAllString(f[1], "$1*:")
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
}

// TestStatsKeysLikeMemcached starts handoffd and memcached alike and
// compares the keys of stats, stats items and stats slabs (the three a
// monitoring agent such as memcached_exporter reads, with stats settings,
// which TestSettingsLikeMemcached compares): every key memcached reports,
// handoffd reports, in memcached's order, or statsAbsent says why not.
func TestStatsKeysLikeMemcached(t *testing.T) {
	for _, line := range [][]string{{}, {"-o", "idle_timeout=30"}} {
		t.Run(strings.Join(append([]string{"memcached"}, line...), " "), func(t *testing.T) {
			maddr := startMemcached(t, line...)
			_, haddr, _ := startDaemon(t, append([]string{"-p", "0", "-l", "127.0.0.1"}, line...)...)
			haddr = strings.TrimPrefix(haddr, "tcp://")
			for _, group := range []string{"", "items", "slabs"} {
				m, h := statKeys(t, maddr, group), statKeys(t, haddr, group)
				var common []string
				for _, k := range m {
					switch {
					case slices.Contains(h, k):
						common = append(common, k)
					case statsAbsent[k] == "":
						t.Errorf("stats %s: memcached reports %s; handoffd neither reports it nor says why not", group, k)
					}
				}
				var order []string
				for _, k := range h {
					switch {
					case slices.Contains(m, k):
						order = append(order, k)
					case statsOwn[k] == "":
						t.Errorf("stats %s: handoffd reports %s, which memcached does not and statsOwn does not explain", group, k)
					}
				}
				if !slices.Equal(order, common) {
					t.Errorf("stats %s: the keys both report come in another order:\nhandoffd  %v\nmemcached %v", group, order, common)
				}
			}
		})
	}
}
