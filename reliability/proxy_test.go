package reliability

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startProcess runs a server the test kills when it ends, or earlier with
// the returned function.
func startProcess(t *testing.T, name string, args ...string) (kill func()) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	kill = func() {
		if !done {
			done = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(kill)
	return kill
}

// backend is one cache server behind the proxy.
type backend struct {
	addr string
	kill func()
}

func handoffdBackend(t *testing.T) backend {
	d, err := Start(handoffd, Options{Args: []string{"-t", "2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	return backend{strings.TrimPrefix(d.Addr, "tcp://"), d.Kill}
}

func memcachedBackend(t *testing.T) backend {
	m, err := StartMemcached("-t", "2")
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("memcached not installed (make deps installs it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	return backend{m.Addr, m.Kill}
}

// startTwemproxy runs Debian's twemproxy (nutcracker) in front of servers,
// with ketama hashing over md5 (libketama's, which clients share; twemproxy's
// fnv1a_64 leaves a server of three nearly empty for keys this alike) and
// ejection after one failure, on loopback only (its stats port too), and
// returns the proxy's address. Servers are named, so a key's place on the
// ring does not depend on the port a server got.
func startTwemproxy(t *testing.T, servers []backend) string {
	t.Helper()
	bin, err := exec.LookPath("nutcracker")
	if err != nil {
		t.Skip("nutcracker not installed (make deps installs Debian's package)")
	}
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var conf strings.Builder
	fmt.Fprintf(&conf, "pool:\n  listen: %s\n  hash: md5\n  distribution: ketama\n", listen)
	// An ejected server stays out for the rest of the test.
	fmt.Fprintf(&conf, "  auto_eject_hosts: true\n  server_failure_limit: 1\n  server_retry_timeout: 600000\n  timeout: 2000\n  servers:\n")
	for i, s := range servers {
		fmt.Fprintf(&conf, "   - %s:1 cache-%d\n", s.addr, i+1)
	}
	path := filepath.Join(dir, "nutcracker.yml")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, bin, "-c", path, "-a", "127.0.0.1", "-s", strconv.Itoa(freePort(t)),
		"-o", filepath.Join(dir, "nutcracker.log"), "-p", filepath.Join(dir, "nutcracker.pid"), "-v", "2")
	if err := AwaitListen(listen, 10*time.Second); err != nil {
		t.Fatalf("nutcracker: %v", err)
	}
	return listen
}

// holder returns which server holds key, asking each directly; -1 for none.
func holder(t *testing.T, clients []*Client, key string) int {
	t.Helper()
	found := -1
	for i, c := range clients {
		if c == nil {
			continue
		}
		_, ok, err := c.Get(key)
		if err != nil {
			t.Fatalf("get %s from server %d: %v", key, i, err)
		}
		if ok {
			if found >= 0 {
				t.Fatalf("%s is held by servers %d and %d", key, found, i)
			}
			found = i
		}
	}
	return found
}

// TestTwemproxyKetama puts Debian's twemproxy with ketama hashing in front
// of three servers, handoffd's and then memcached's for comparison: keys
// spread over all three, each held by one; once one server is killed it is
// ejected and only its keys move, each to a survivor, while every other key
// keeps its server and its value.
func TestTwemproxyKetama(t *testing.T) {
	for _, kind := range []struct {
		name  string
		start func(*testing.T) backend
	}{{"handoffd", handoffdBackend}, {"memcached", memcachedBackend}} {
		t.Run(kind.name, func(t *testing.T) {
			servers := []backend{kind.start(t), kind.start(t), kind.start(t)}
			proxy, err := Dial(startTwemproxy(t, servers), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			direct := make([]*Client, len(servers))
			for i, s := range servers {
				if direct[i], err = Dial(s.addr, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				defer direct[i].Close()
			}

			const keys = 300
			where := make([]int, keys)
			per := make([]int, len(servers))
			for k := range keys {
				key := fmt.Sprintf("key:%d", k)
				if err := proxy.Set(key, []byte("v"+key)); err != nil {
					t.Fatalf("set %s through the proxy: %v", key, err)
				}
				if where[k] = holder(t, direct, key); where[k] < 0 {
					t.Fatalf("%s was set through the proxy but no server holds it", key)
				}
				per[where[k]]++
			}
			for i, n := range per {
				if n < keys/10 {
					t.Fatalf("server %d holds %d of %d keys: ketama did not spread them (%v)", i, n, keys, per)
				}
			}

			// Kill server 1. The first request that reaches it fails and
			// ejects it; after that its keys hash to the survivors.
			const dead = 1
			servers[dead].kill()
			direct[dead].Close()
			direct[dead] = nil
			ejected := false
			for k := 0; k < keys && !ejected; k++ {
				if where[k] != dead {
					continue
				}
				key := fmt.Sprintf("key:%d", k)
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					_, ok, err := proxy.Get(key)
					if err == nil && !ok {
						ejected = true // a miss from a survivor
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("get %s through the proxy 10 s after its server died: ok %v, %v", key, ok, err)
					}
				}
			}
			if !ejected {
				t.Fatal("no key of the killed server to see its ejection by")
			}

			moved := 0
			for k := range keys {
				key := fmt.Sprintf("key:%d", k)
				v, ok, err := proxy.Get(key)
				if err != nil {
					t.Fatalf("get %s through the proxy after the ejection: %v", key, err)
				}
				if where[k] != dead {
					if !ok || string(v) != "v"+key {
						t.Errorf("%s, held by surviving server %d, lost through the proxy: %q, %v", key, where[k], v, ok)
					}
					continue
				}
				if ok {
					t.Errorf("%s was on the killed server but the proxy still finds it", key)
				}
				if err := proxy.Set(key, []byte("again")); err != nil {
					t.Fatalf("set %s again through the proxy: %v", key, err)
				}
				if h := holder(t, direct, key); h < 0 || h == dead {
					t.Errorf("%s set again is held by %d, want a survivor", key, h)
				}
				moved++
			}
			t.Logf("%s: keys per server %v; %d keys moved off the killed server, the other %d kept theirs", kind.name, per, moved, keys-moved)
		})
	}
}
