package memcache_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// watchLine is memcached's log line: ts=S.U gid=N type=T and the rest.
var watchLine = regexp.MustCompile(`^ts=\d+\.\d+ gid=(\d+) type=(\S+)(.*)$`)

// watchReader reads a watcher's lines, each within a bound.
type watchReader struct {
	t    *testing.T
	c    net.Conn
	r    *bufio.Reader
	addr string
}

func startWatch(t *testing.T, addr, kinds string) *watchReader {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &watchReader{t: t, c: c, r: bufio.NewReader(c), addr: addr}
	if _, err := c.Write([]byte("watch " + kinds + "\r\n")); err != nil {
		t.Fatal(err)
	}
	if l := w.line("the reply to watch"); l != "OK" {
		t.Fatalf("%s: watch %s answered %q, want OK", addr, kinds, l)
	}
	return w
}

// line returns the next line, failing with what it waited for after 10 s.
func (w *watchReader) line(what string) string {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("%s: waiting for %s: %v\n%s", w.addr, what, err, goroutines())
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads lines until one matches, calling event first and then every
// 100 lines, so that a line held for want of room is pushed out by a new
// one; it fails after 50,000 lines.
func (w *watchReader) until(what string, event func(), match func(string) bool) string {
	w.t.Helper()
	for i := 0; i <= 50000; i++ {
		if i%100 == 0 {
			event()
		}
		if l := w.line(what); match(l) {
			return l
		}
	}
	w.t.Fatalf("%s: no %s in 50,000 lines", w.addr, what)
	return ""
}

// next returns the next line whose text contains mark, with its type and
// the fields after it.
func (w *watchReader) next(mark, what string) (typ string, fields map[string]string, gid uint64) {
	w.t.Helper()
	for {
		l := w.line(what)
		if strings.HasPrefix(l, "skipped=") || !strings.Contains(l, mark) {
			continue
		}
		m := watchLine.FindStringSubmatch(l)
		if m == nil {
			w.t.Fatalf("%s: log line %q is not memcached's ts=S.U gid=N type=T form", w.addr, l)
		}
		gid, _ = strconv.ParseUint(m[1], 10, 64)
		fields = map[string]string{}
		for _, f := range strings.Fields(m[3]) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		return m[2], fields, gid
	}
}

// checkWatch: a watcher of fetchers, mutations and connevents sees another
// client's connection, the lookup a set makes, the set, a get, and the
// close, in that order, in memcached's words; log_watchers counts it while
// it is open and not once it has closed.
func checkWatch(t *testing.T, addr string) {
	w := startWatch(t, addr, "fetchers mutations connevents")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port)
	key := fmt.Sprintf("watch_%d", time.Now().UnixNano())
	fmt.Fprintf(c, "set %s 0 0 4\r\nvbar\r\nget %s\r\nquit\r\n", key, key)

	type want struct {
		mark, typ string
		fields    map[string]string
	}
	wants := []want{
		{"rport=" + port + " ", "conn_new", map[string]string{"rip": "127.0.0.1", "transport": "tcp"}},
		{"key=" + key + " ", "item_get", map[string]string{"status": "not_found", "clsid": "0", "size": "0"}},
		{"key=" + key + " ", "item_store", map[string]string{"status": "stored", "cmd": "set", "ttl": "0", "size": "4"}},
		{"key=" + key + " ", "item_get", map[string]string{"status": "found", "size": "4"}},
		{"rport=" + port + " ", "conn_close", map[string]string{"transport": "tcp", "reason": "normal"}},
	}
	var last uint64
	cfd := ""
	for i, wt := range wants {
		typ, f, gid := w.next(wt.mark, wt.typ)
		if typ != wt.typ {
			t.Fatalf("%s: line %d is type=%s %v, want type=%s", addr, i, typ, f, wt.typ)
		}
		for k, v := range wt.fields {
			if f[k] != v {
				t.Fatalf("%s: type=%s has %s=%q, want %q (line %v)", addr, typ, k, f[k], v, f)
			}
		}
		if cfd == "" {
			cfd = f["cfd"]
		} else if f["cfd"] != cfd {
			t.Fatalf("%s: type=%s names cfd=%s, the connection is cfd=%s", addr, typ, f["cfd"], cfd)
		}
		if gid <= last {
			t.Fatalf("%s: gid %d after %d: gids must increase", addr, gid, last)
		}
		last = gid
	}

	if n := statOf(t, addr, "log_watchers"); n != "1" {
		t.Fatalf("%s: log_watchers %s with one watcher open", addr, n)
	}
	w.c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for statOf(t, addr, "log_watchers") != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("%s: log_watchers still counts a watcher closed 10 s ago\n%s", addr, goroutines())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutines is every goroutine's stack, for a failed wait.
func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// statOf returns one key of stats from a fresh connection.
func statOf(t *testing.T, addr, key string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "stats\r\n")
	r := bufio.NewReader(c)
	v := ""
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: stats: %v", addr, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "END" {
			return v
		}
		if f := strings.Fields(l); len(f) == 3 && f[1] == key {
			v = f[2]
		}
	}
}

// TestWatch checks the watch command on handoff and, under make compat, the
// same checks on memcached.
func TestWatch(t *testing.T) {
	addr, _ := startServer(t, 0)
	checkWatch(t, addr)
	if m := os.Getenv("MEMCACHED_ADDR"); m != "" {
		checkWatch(t, m)
	}
}

// TestWatchSkipsWhatItCannotHold: a watcher that does not read holds no
// more than its buffer and the reactor's output bound; the lines past that
// are counted in log_watcher_skipped and announced by a "skipped=N" line
// once it reads again, followed by real lines, as memcached does (no
// unbounded buffer).
func TestWatchSkipsWhatItCannotHold(t *testing.T) {
	st, err := memcache.NewStore(memcache.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := memcache.NewProtocol(memcache.NewCache(st, memcache.Settings{WatcherBuffer: 8 << 10}, nil))
	cfg, err := p.Config(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 2, MaxOutput: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	addr := reactortest.Serve(t, cfg, p).Addrs()[0].String()
	w := startWatch(t, addr, "fetchers")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	get := func(key string) {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "get %s\r\n", key)
		if l, err := r.ReadString('\n'); err != nil || l != "END\r\n" {
			t.Fatalf("get %s: %q, %v", key, l, err)
		}
	}
	// 40,000 lines of about 280 bytes: 11 MB, against 8 KiB of buffer,
	// 64 KiB of output and the socket's buffers.
	spacer := strings.Repeat("X", 200)
	var batch strings.Builder
	for i := range 40000 {
		fmt.Fprintf(&batch, "get foo%d%s\r\n", i, spacer)
		if i%200 == 199 {
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte(batch.String())); err != nil {
				t.Fatal(err)
			}
			batch.Reset()
			for range 200 {
				if l, err := r.ReadString('\n'); err != nil || l != "END\r\n" {
					t.Fatalf("get %d: %q, %v", i, l, err)
				}
			}
		}
	}
	if n, _ := strconv.Atoi(statOf(t, addr, "log_watcher_skipped")); n == 0 {
		t.Fatal("log_watcher_skipped 0 after 11 MB of lines to a watcher that read none")
	}
	// Read what was held, making a line now and then so that the skipped
	// count, which waits for room, is written.
	l := w.until("a skipped= line", func() { get("unjam") }, func(l string) bool { return strings.HasPrefix(l, "skipped=") })
	if n, err := strconv.Atoi(l[len("skipped="):]); err != nil || n <= 0 {
		t.Fatalf("skip line %q: want skipped=N, N > 0", l)
	}
	// Then real lines again: an event after the skip is logged once the
	// buffer has room (a line that finds it still full is skipped too, so
	// the event is repeated until one gets through).
	l = w.until("a line of key after, after the skip", func() { get("after") }, func(l string) bool { return strings.Contains(l, " key=after ") })
	if m := watchLine.FindStringSubmatch(l); m == nil || m[2] != "item_get" {
		t.Fatalf("after the skip: %q, want an item_get of after", l)
	}
}
