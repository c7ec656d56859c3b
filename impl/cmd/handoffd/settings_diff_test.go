package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoffd/handoff/reliability"
)

// settingsLines are the command lines both daemons are started with: each
// flag handoffd shares with memcached, at its default and away from it.
var settingsLines = [][]string{
	{},
	{"-m", "8", "-c", "100", "-t", "1"},
	{"-vv", "-m", "16", "-I", "8m"},
	{"-m", "100", "-I", "2m", "-R", "1", "-b", "16", "-t", "2"},
	{"-m", "1024", "-I", "4m", "-c", "4096", "-t", "3", "-R", "50"},
	{"-m", "2", "-I", "1m", "-b", "2048", "-o", "idle_timeout=30"},
	{"-v", "-t", "8", "-c", "64", "-o", "idle_timeout=0", "-A", "-F"},
	{"-f", "1.5", "-n", "100"},
	{"-B", "ascii", "-D", "/"},
	{"-W", "-M", "-C", "-X", "-o", "watcher_logbuf_size=8,no_lru_crawler"},
}

// settingsSame are the keys of stats settings that come from the command
// line or are a fixed choice both servers make, and must be equal.
var settingsSame = []string{
	"maxbytes", "maxconns", "udpport", "inter", "verbosity", "num_threads", "item_size_max",
	"reqs_per_event", "tcp_backlog", "idle_timeout", "cas_enabled", "evictions", "domain_socket",
	"umask", "growth_factor", "chunk_size", "detail_enabled", "auth_enabled_sasl", "auth_enabled_ascii",
	"maxconns_fast", "flush_enabled", "shutdown_command", "oldest", "track_sizes",
	"stat_key_prefix", "close_idle_timeout", "lru_crawler", "expirezero_does_not_evict", "hashpower_init",
	"slab_reassign", "slab_automove", "slab_automove_ratio", "binding_protocol",
	"watcher_logbuf_size", "dump_enabled",
}

// settingsOwn are the keys whose values differ by design, with the reason.
var settingsOwn = map[string]string{
	"tcpport":               "each server listens on its own port",
	"hash_algorithm":        "handoff hashes keys with Go's maphash",
	"lru_maintainer_thread": "no background LRU maintainer: each class's LRU is exact",
	"lru_segmented":         "one exact LRU per slab class, not hot/warm/cold segments",
	"slab_chunk_max":        "the largest class is a whole page, not half of one with larger items chained",
	"store_shards":          "handoff's own: the store's lock shards",
}

// settingsAbsent are memcached's keys handoffd does not report, by the
// feature they belong to.
var settingsAbsent = map[string]string{
	"ext_": "extstore", "ssl_": "TLS", "slab_automove_": "memcached's automove thread (its window and free ratio)", "hot_": "the segmented LRU",
	"warm_": "the segmented LRU", "temporary_ttl": "the segmented LRU",
	"tail_repair_time": "item reference counts, which handoff's store has none of", "memory_file": "restartable caches",
	"read_buf_mem_limit": "memcached's read buffer pool", "worker_logbuf_size": "no per-worker log buffer (lines go straight to each watcher's)",
	"num_napi_ids":        "NAPI ids",
	"num_threads_per_udp": "UDP",
}

func absentReason(key string) (string, bool) {
	for prefix, why := range settingsAbsent {
		if key == prefix || (strings.HasSuffix(prefix, "_") && strings.HasPrefix(key, prefix)) {
			return why, true
		}
	}
	return "", false
}

// startMemcached starts Debian's memcached with args on a free loopback
// port and returns its address; it is killed when the test ends.
func startMemcached(t *testing.T, args ...string) string {
	t.Helper()
	m, err := reliability.StartMemcached(args...)
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("memcached not installed (make deps installs it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	return m.Addr
}

func settingsOf(t *testing.T, addr string) reliability.Stats {
	t.Helper()
	c, err := reliability.Dial(addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.StatsGroup("settings")
	if err != nil {
		t.Fatalf("stats settings at %s: %v", addr, err)
	}
	return st
}

// TestSettingsLikeMemcached starts handoffd and memcached with the same
// command lines and compares stats settings key by key: what the flags set
// is equal, what differs by design is listed with its reason, and every key
// memcached has that handoffd lacks belongs to a feature handoffd does not
// have.
func TestSettingsLikeMemcached(t *testing.T) {
	for _, line := range settingsLines {
		t.Run(strings.Join(append([]string{"memcached"}, line...), " "), func(t *testing.T) {
			m := settingsOf(t, startMemcached(t, line...))
			_, haddr, _ := startDaemon(t, append([]string{"-p", "0", "-l", "127.0.0.1"}, line...)...)
			h := settingsOf(t, strings.TrimPrefix(haddr, "tcp://"))
			for _, k := range settingsSame {
				if _, ok := m[k]; !ok {
					if _, ok := h[k]; ok {
						t.Errorf("%s: handoffd reports %q, memcached nothing", k, h[k])
					}
					continue
				}
				if h[k] != m[k] {
					t.Errorf("%s: handoffd %q, memcached %q", k, h[k], m[k])
				}
			}
			for k := range m {
				_, own := settingsOwn[k]
				_, absentOK := absentReason(k)
				_, inH := h[k]
				switch {
				case own:
				case !inH && !absentOK && !contains(settingsSame, k):
					t.Errorf("memcached reports %s %q; handoffd neither reports it nor lists why not", k, m[k])
				}
			}
			for k := range h {
				if _, inM := m[k]; !inM {
					if _, own := settingsOwn[k]; !own {
						t.Errorf("handoffd reports %s %q, which memcached does not have and settingsOwn does not explain", k, h[k])
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// exchange sends req on a fresh connection to addr and reads one reply line.
func exchange(t *testing.T, addr string, req []byte) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = c.Write(req) }()
	line := make([]byte, 0, 64)
	b := make([]byte, 1)
	for len(line) < 200 {
		if _, err := c.Read(b); err != nil {
			return string(line) + fmt.Sprintf("<%v>", err)
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			break
		}
	}
	return string(line)
}

// TestLimitsLikeMemcached exercises -I and -c on both daemons started alike:
// a value one byte under and at the item limit (with and without flags,
// which memcached counts), and the connection over -c, whose reject line
// must be memcached's.
func TestLimitsLikeMemcached(t *testing.T) {
	for _, c := range []struct {
		item int
		args []string
	}{
		{1 << 20, []string{"-m", "64"}},
		{2 << 20, []string{"-m", "64", "-I", "2m"}},
		{4 << 20, []string{"-m", "16", "-I", "4m"}},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			maddr := startMemcached(t, c.args...)
			_, haddr, _ := startDaemon(t, append([]string{"-p", "0", "-l", "127.0.0.1"}, c.args...)...)
			haddr = strings.TrimPrefix(haddr, "tcp://")
			// memcached's item: 48-byte header, key and its terminator, the
			// value and its CRLF, the CAS unique, and 4 bytes of flags.
			for _, s := range []struct {
				flags, n int
			}{
				{0, c.item - 60}, {0, c.item - 59}, {5, c.item - 64}, {5, c.item - 63},
			} {
				req := append(fmt.Appendf(nil, "set k %d 0 %d\r\n", s.flags, s.n), append(make([]byte, s.n), "\r\n"...)...)
				if h, m := exchange(t, haddr, req), exchange(t, maddr, req); h != m {
					t.Errorf("a %d-byte value with flags %d: handoffd %q, memcached %q", s.n, s.flags, h, m)
				}
			}
		})
	}
	t.Run("-c 100", func(t *testing.T) {
		maddr := startMemcached(t, "-c", "100")
		hcmd, haddr, _ := startDaemon(t, "-p", "0", "-l", "127.0.0.1", "-c", "100")
		haddr = strings.TrimPrefix(haddr, "tcp://")
		// The fd limit's reserve: memcached sets RLIMIT_NOFILE to -c itself,
		// so its own fds come out of -c; handoffd's soft limit holds -c
		// clients and its own fds beside them.
		if limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", hcmd.Process.Pid)); err == nil {
			for _, l := range strings.Split(string(limits), "\n") {
				if f := strings.Fields(l); strings.HasPrefix(l, "Max open files") && len(f) >= 5 {
					if soft, err := strconv.ParseUint(f[3], 10, 64); err != nil || soft < 100+reservedFDs(4, 1) {
						t.Errorf("handoffd -c 100 runs with an open-file limit of %s, want at least %d", f[3], 100+reservedFDs(4, 1))
					}
				}
			}
		}
		reject := func(addr string) (int, string) {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for len(held) < 300 {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write([]byte("version\r\n")); err != nil {
					return len(held) - 1, err.Error()
				}
				line := make([]byte, 64)
				n, err := c.Read(line)
				if err != nil || !strings.HasPrefix(string(line[:n]), "VERSION") {
					return len(held) - 1, string(line[:n])
				}
			}
			return len(held), "no reject"
		}
		hn, hline := reject(haddr)
		mn, mline := reject(maddr)
		t.Logf("-c 100: handoffd served %d connections, memcached %d (it counts its own fds against -c)", hn, mn)
		if hline != mline {
			t.Errorf("the connection over -c: handoffd got %q, memcached %q", hline, mline)
		}
		if hn != 100 {
			t.Errorf("handoffd served %d connections at -c 100", hn)
		}
	})
}

// TestRefusedLikeMemcached: a command line memcached refuses at start,
// handoffd refuses too (exit codes apart: memcached's are 1 and 64, handoffd
// exits 2 as Go's flag package does), and one memcached starts with,
// handoffd starts with, except where handoffd is stricter on purpose.
func TestRefusedLikeMemcached(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed (make deps installs it)")
	}
	stricter := map[string]string{
		"-b 0":              "a listen backlog of 0, which the kernel reads as its own minimum",
		"-o idle_timeout=x": "an idle timeout that is no number, which memcached reads as 0 (off)",
	}
	for _, line := range []string{"-m 1 -I 1m", "-t 0", "-R 0", "-c 0", "-b 0", "-I 2000m", "-m 0", "-m x",
		"-o idle_timeout=x", "-o bogus_option", "-I 2m", "-t 1 -c 50", "-f 1", "-f 0.5", "-n 0"} {
		t.Run(line, func(t *testing.T) {
			t.Parallel()
			// A refused command line exits within milliseconds; one still
			// running after 3 s (a bound for a loaded machine) started.
			starts := func(name string, args ...string) bool {
				cmd := exec.Command(name, args...)
				if name == os.Args[0] {
					cmd.Env = append(os.Environ(), "HANDOFFD_MAIN=1")
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
					return false // exited at once: refused
				case <-time.After(3 * time.Second):
					_ = cmd.Process.Kill()
					<-done
					return true
				}
			}
			args := strings.Fields(line)
			margs := append([]string{"-U", "0", "-l", "127.0.0.1", "-p", "0"}, args...)
			if os.Getuid() == 0 {
				margs = append(margs, "-u", "nobody")
			}
			m := starts(bin, margs...)
			hargs := append([]string{"-l", "127.0.0.1", "-p", "0"}, args...)
			if runningAsRoot() {
				hargs = append(hargs, "-u", "nobody")
			}
			h := starts(os.Args[0], hargs...)
			switch why, ok := stricter[line]; {
			case ok && m && !h:
				t.Logf("handoffd refuses, memcached starts: %s", why)
			case m != h:
				t.Errorf("memcached %s: starts %v; handoffd starts %v", line, m, h)
			}
		})
	}
}
