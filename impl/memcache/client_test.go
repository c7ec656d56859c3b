package memcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	gomc "github.com/bradfitz/gomemcache/memcache"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// startServer serves a fresh cache on 127.0.0.1:0 and stops it (checking a
// clean Shutdown) when the test ends; maxOutput 0 is the reactor's default.
func startServer(t *testing.T, maxOutput int) (addr string, cache *memcache.Cache) {
	t.Helper()
	st, err := memcache.NewStore(memcache.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cache = memcache.NewCache(st, memcache.Settings{}, nil)
	p := memcache.NewProtocol(cache)
	cfg, err := p.Config(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 2, MaxConns: 64, MaxOutput: maxOutput})
	if err != nil {
		t.Fatal(err)
	}
	rs := reactortest.Serve(t, cfg, p)
	return rs.Addrs()[0].String(), cache
}

// TestGomemcache drives the server with an unchanged memcached client
// (github.com/bradfitz/gomemcache): every operation it offers returns what a
// memcached would return.
func TestGomemcache(t *testing.T) {
	addr, _ := startServer(t, 0)
	mc := gomc.New(addr)
	mc.Timeout = 5 * time.Second

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(mc.Ping())
	must(mc.Set(&gomc.Item{Key: "a", Value: []byte("1"), Flags: 7}))
	it, err := mc.Get("a")
	must(err)
	if string(it.Value) != "1" || it.Flags != 7 {
		t.Fatalf("Get a = %q flags %d", it.Value, it.Flags)
	}
	if _, err := mc.Get("missing"); !errors.Is(err, gomc.ErrCacheMiss) {
		t.Fatalf("Get missing: %v, want ErrCacheMiss", err)
	}

	must(mc.Set(&gomc.Item{Key: "b", Value: []byte("2")}))
	m, err := mc.GetMulti([]string{"a", "b", "c"})
	must(err)
	if len(m) != 2 || string(m["a"].Value) != "1" || string(m["b"].Value) != "2" {
		t.Fatalf("GetMulti = %v", m)
	}

	if err := mc.Add(&gomc.Item{Key: "a", Value: []byte("x")}); !errors.Is(err, gomc.ErrNotStored) {
		t.Fatalf("Add existing: %v, want ErrNotStored", err)
	}
	must(mc.Add(&gomc.Item{Key: "new", Value: []byte("n")}))
	if err := mc.Replace(&gomc.Item{Key: "nokey", Value: []byte("x")}); !errors.Is(err, gomc.ErrNotStored) {
		t.Fatalf("Replace missing: %v, want ErrNotStored", err)
	}
	must(mc.Replace(&gomc.Item{Key: "new", Value: []byte("r")}))
	must(mc.Append(&gomc.Item{Key: "new", Value: []byte("+")}))
	must(mc.Prepend(&gomc.Item{Key: "new", Value: []byte("-")}))
	if it, err := mc.Get("new"); err != nil || string(it.Value) != "-r+" {
		t.Fatalf("after append/prepend: %v %v", it, err)
	}

	n, err := mc.Increment("a", 41)
	must(err)
	if n != 42 {
		t.Fatalf("Increment = %d, want 42", n)
	}
	n, err = mc.Decrement("a", 100)
	must(err)
	if n != 0 {
		t.Fatalf("Decrement below 0 = %d, want 0", n)
	}
	if _, err := mc.Increment("new", 1); err == nil || !strings.Contains(err.Error(), "non-numeric") {
		t.Fatalf("Increment non-numeric: %v", err)
	}

	it, err = mc.Get("b")
	must(err)
	it.Value = []byte("cas1")
	must(mc.CompareAndSwap(it))
	it.Value = []byte("cas2")
	if err := mc.CompareAndSwap(it); !errors.Is(err, gomc.ErrCASConflict) {
		t.Fatalf("stale CompareAndSwap: %v, want ErrCASConflict", err)
	}

	must(mc.Touch("b", 100))
	if err := mc.Touch("nokey", 100); !errors.Is(err, gomc.ErrCacheMiss) {
		t.Fatalf("Touch missing: %v", err)
	}
	must(mc.Delete("b"))
	if err := mc.Delete("b"); !errors.Is(err, gomc.ErrCacheMiss) {
		t.Fatalf("Delete twice: %v", err)
	}

	big := bytes.Repeat([]byte("v"), 900<<10)
	must(mc.Set(&gomc.Item{Key: "big", Value: big}))
	if it, err := mc.Get("big"); err != nil || !bytes.Equal(it.Value, big) {
		t.Fatalf("big value round trip: %v", err)
	}
	if err := mc.Set(&gomc.Item{Key: "huge", Value: make([]byte, 2<<20)}); err == nil {
		t.Fatal("2 MiB value stored; want the item size limit to refuse it")
	}
	// The connection survives the refused value.
	must(mc.Set(&gomc.Item{Key: "after", Value: []byte("ok")}))

	must(mc.FlushAll())
	if _, err := mc.Get("a"); !errors.Is(err, gomc.ErrCacheMiss) {
		t.Fatalf("Get after FlushAll: %v", err)
	}
}

// TestStatsConnections reports the reactor's connection figures under
// memcached's names.
func TestStatsConnections(t *testing.T) {
	addr, _ := startServer(t, 0)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "stats\r\n")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(got, []byte("END\r\n")) {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read stats: %v (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	for _, want := range []string{"STAT curr_connections 1\r\n", "STAT total_connections 1\r\n", "STAT rejected_connections 0\r\n", "STAT threads 2\r\n", "STAT limit_maxbytes 67108864\r\n", "STAT max_connections 64\r\n"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("stats lacks %q:\n%s", want, got)
		}
	}
	if !regexp.MustCompile(`\r\nSTAT threads 2\r\nSTAT goroutines [1-9][0-9]*\r\n`).Match(got) {
		t.Errorf("stats lacks goroutines right after threads:\n%s", got)
	}
}

// TestPipelineBackpressure pipelines 20 MB worth of replies through a
// 256 KiB output bound: the Protocol yields whenever the bound is reached and
// is offered the rest after the output drains, so every reply arrives, in
// order, and none is lost or cut (TestProcessBackpressure checks the early
// return itself).
func TestPipelineBackpressure(t *testing.T) {
	const maxOutput = 256 << 10
	addr, _ := startServer(t, maxOutput)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	val := bytes.Repeat([]byte("x"), 100<<10)
	fmt.Fprintf(c, "set k 0 0 %d\r\n%s\r\n", len(val), val)
	const gets = 200 // 20 MB of replies against a 256 KiB output bound
	done := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, strings.Repeat("get k\r\n", gets))
		done <- err
	}()
	want := []byte(fmt.Sprintf("VALUE k 0 %d\r\n%s\r\nEND\r\n", len(val), val))
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	stored := make([]byte, len("STORED\r\n"))
	if _, err := io.ReadFull(c, stored); err != nil || string(stored) != "STORED\r\n" {
		t.Fatalf("set: %q %v", stored, err)
	}
	reply := make([]byte, len(want))
	for i := range gets {
		if _, err := io.ReadFull(c, reply); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if !bytes.Equal(reply, want) {
			t.Fatalf("reply %d differs", i)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentClients: 32 clients on their own connections, spread over
// both workers, each reading its own writes on private keys while all
// increment one shared counter: no reply is crossed between connections and
// no increment is lost.
func TestConcurrentClients(t *testing.T) {
	addr, _ := startServer(t, 0)
	admin := gomc.New(addr)
	if err := admin.Set(&gomc.Item{Key: "counter", Value: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	const clients, rounds = 32, 50
	errs := make(chan error, clients)
	for c := range clients {
		go func() {
			mc := gomc.New(addr)
			mc.Timeout = 10 * time.Second
			for r := range rounds {
				key := fmt.Sprintf("c%d-%d", c, r%5)
				val := fmt.Sprintf("%d:%d", c, r)
				if err := mc.Set(&gomc.Item{Key: key, Value: []byte(val)}); err != nil {
					errs <- err
					return
				}
				it, err := mc.Get(key)
				if err != nil || string(it.Value) != val {
					errs <- fmt.Errorf("client %d read %v %v, want %s", c, it, err, val)
					return
				}
				if _, err := mc.Increment("counter", 1); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	it, err := admin.Get("counter")
	if err != nil || string(it.Value) != fmt.Sprint(clients*rounds) {
		t.Fatalf("counter = %v %v, want %d", it, err, clients*rounds)
	}
}
