package memcache_test

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// connsOf asks stats conns on c and returns each fd's stats, leaving out
// listening sockets (memcached lists its own; handoff's are the reactor's).
func connsOf(t *testing.T, c net.Conn) map[string]map[string]string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("stats conns\r\n")); err != nil {
		t.Fatal(err)
	}
	conns := map[string]map[string]string{}
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stats conns: %v", err)
		}
		l = strings.TrimSuffix(l, "\r\n")
		if l == "END" {
			break
		}
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("stats conns: line %q", l)
		}
		fd, key, ok := strings.Cut(f[1], ":")
		if !ok {
			t.Fatalf("stats conns: line %q", l)
		}
		if conns[fd] == nil {
			conns[fd] = map[string]string{}
		}
		conns[fd][key] = f[2]
	}
	for fd, st := range conns {
		if st["state"] == "conn_listening" {
			delete(conns, fd)
		}
	}
	return conns
}

// checkConns: stats conns lists the asking connection and an idle one,
// each with memcached's keys and states and its own addresses, and drops a
// closed one.
func checkConns(t *testing.T, addr string) {
	asker, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer asker.Close()
	idle, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The idle connection has spoken once, so it is served, not queued.
	_ = idle.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Write([]byte("version\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(idle).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	// memcached's thread may not yet have moved the idle connection on
	// from writing its reply (conn_mwrite, conn_new_cmd) when the client
	// has read it: asked again, for up to 5 s, until it settles.
	idleAddr := "tcp:" + idle.LocalAddr().String()
	conns := connsOf(t, asker)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		settled := true
		for _, st := range conns {
			if st["addr"] == idleAddr && st["state"] != "conn_read" {
				settled = false
			}
		}
		if settled {
			break
		}
		conns = connsOf(t, asker)
	}
	want := map[string]string{"tcp:" + asker.LocalAddr().String(): "conn_parse_cmd", idleAddr: "conn_read"}
	seen := 0
	for fd, st := range conns {
		state, ours := want[st["addr"]]
		if !ours {
			continue
		}
		seen++
		if st["state"] != state || st["listen_addr"] != "tcp:"+addr || st["secs_since_last_cmd"] == "" {
			t.Errorf("%s: stats conns for fd %s: %v, want state %s, listen_addr tcp:%s, secs_since_last_cmd", addr, fd, st, state, addr)
		}
	}
	if seen != 2 {
		t.Fatalf("%s: stats conns lists %d of the test's 2 connections: %v", addr, seen, conns)
	}
	gone := "tcp:" + idle.LocalAddr().String()
	idle.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		listed := false
		for _, st := range connsOf(t, asker) {
			listed = listed || st["addr"] == gone
		}
		if !listed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: a connection closed 10 s ago is still in stats conns", addr)
		}
	}
}

// TestStatsConns checks stats conns on handoff and, under make compat, the
// same checks on memcached.
func TestStatsConns(t *testing.T) {
	addr, _ := startServer(t, 0)
	checkConns(t, addr)
	if m := os.Getenv("MEMCACHED_ADDR"); m != "" {
		checkConns(t, m)
	}
}
