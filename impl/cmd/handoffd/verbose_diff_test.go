package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoffd/handoff/reliability"
)

// runLogged runs a server on a free loopback port with its stderr in a file,
// sends reqs on one connection once it listens, then a text version command,
// reads until the server has answered it, closes the connection and, when
// its close is logged, awaits that line, then stops the server with SIGTERM
// and returns what it wrote.
func runLogged(t *testing.T, name string, args []string, env []string, reqs string, closeLogged bool) string {
	t.Helper()
	return runLoggedUntil(t, name, args, env, []byte(reqs+"version\r\n"), []byte("VERSION "), closeLogged)
}

// runLoggedUntil is runLogged for any protocol: it sends reqs as they are
// and reads until the replies hold end.
func runLoggedUntil(t *testing.T, name string, args []string, env []string, reqs, end []byte, closeLogged bool) string {
	t.Helper()
	port, err := reliability.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "stderr")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(name, append(args, "-l", "127.0.0.1", "-p", strconv.Itoa(port))...)
	cmd.Env, cmd.Stderr = append(os.Environ(), env...), logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The first connect that succeeds is the one the log is about: a probe
	// before it would be logged too.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var c net.Conn
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 20 s", name, addr)
		}
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, end) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("%s: reading the replies: %v (so far %q)", name, err, got)
		}
	}
	c.Close()
	// Let the close reach the log, then stop.
	for deadline := time.Now().Add(5 * time.Second); closeLogged && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte("connection closed.")) {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// connLines keeps the log lines about connections (memcached's "<28 ...",
// ">28 ..." and "28: ..."), their fd replaced by N: each server numbers its
// own; and the lines of binary commands that name no connection.
func connLines(log string) []string {
	re := regexp.MustCompile(`^([<>]?)\d+(:? )`)
	var out []string
	for _, l := range strings.Split(log, "\n") {
		switch {
		case re.MatchString(l) && !strings.Contains(l, "server listening"):
			out = append(out, re.ReplaceAllString(l, "${1}N${2}"))
		case strings.HasPrefix(l, "incr "), strings.HasPrefix(l, "Deleting "), strings.HasPrefix(l, "Value len is "):
			out = append(out, l)
		}
	}
	return out
}

// binFrame is a binary protocol request.
func binFrame(op byte, key, ext, value string, cas uint64) []byte {
	b := []byte{0x80, op}
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, byte(len(ext)), 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ext)+len(key)+len(value)))
	b = binary.BigEndian.AppendUint32(b, 0x1234)
	b = binary.BigEndian.AppendUint64(b, cas)
	return append(append(append(b, ext...), key...), value...)
}

// TestVerboseBinaryLogLikeMemcached: with -vv, a binary connection's log is
// memcached's, line for line: each request header dumped, each command's
// own line, each response header dumped, an error's text before it.
func TestVerboseBinaryLogLikeMemcached(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed (make deps installs it)")
	}
	set := "\x00\x00\x00\x05\x00\x00\x00\x00" // flags 5, no expiry
	incr := "\x00\x00\x00\x00\x00\x00\x00\x02" + "\x00\x00\x00\x00\x00\x00\x00\x07" + "\x00\x00\x00\x00"
	var reqs []byte
	for _, f := range [][]byte{
		binFrame(0x01, "a", set, "xyz", 0),             // set
		binFrame(0x00, "a", "", "", 0),                 // get, a hit
		binFrame(0x0c, "zz", "", "", 0),                // getk, a miss
		binFrame(0x09, "zz", "", "", 0),                // getq, a quiet miss
		binFrame(0x02, "a", set, "q", 0),               // add, refused
		binFrame(0x11, "b", set, "q", 0),               // setq
		binFrame(0x0e, "a", "", "++", 0),               // append
		binFrame(0x05, "n", incr, "", 0),               // incr, created
		binFrame(0x06, "n", incr, "", 0),               // decr
		binFrame(0x04, "zz", "", "", 0),                // delete, a miss
		binFrame(0x1c, "a", "\x00\x00\x00\x0a", "", 0), // touch
		binFrame(0x1d, "a", "\x00\x00\x00\x0a", "", 0), // gat
		binFrame(0x10, "settings", "", "", 0),          // stat
		binFrame(0x08, "", "", "", 0),                  // flush
		binFrame(0x0a, "", "", "", 0),                  // noop
		binFrame(0x50, "", "", "", 0),                  // unknown
		// Last, a value to wait for: the version's reply, which would
		// do, is handoffd's own.
		binFrame(0x01, "e", set, "the-end", 0), // set
		binFrame(0x00, "e", "", "", 0),         // get
	} {
		reqs = append(reqs, f...)
	}
	user := []string{}
	if runningAsRoot() {
		user = []string{"-u", "nobody"}
	}
	end := []byte("the-end")
	m := connLines(runLoggedUntil(t, bin, append([]string{"-U", "0", "-vv"}, user...), nil, reqs, end, true))
	h := connLines(runLoggedUntil(t, os.Args[0], append([]string{"-vv"}, user...), []string{"HANDOFFD_MAIN=1"}, reqs, end, true))
	if strings.Join(h, "\n") != strings.Join(m, "\n") {
		t.Errorf("-vv logs differ:\nhandoffd:\n  %s\nmemcached:\n  %s", strings.Join(h, "\n  "), strings.Join(m, "\n  "))
	}
	if len(m) < 100 {
		t.Errorf("memcached -vv logged only %d lines for a binary connection: %q", len(m), m)
	}
}

// TestVerboseLogLikeMemcached: with -vv, handoffd writes what memcached
// writes for each connection, command and reply, line for line — noreply's
// NOREPLY lines, retrievals' sending key lines, meta commands logged
// without their replies — and the verbosity command turns it off at once.
func TestVerboseLogLikeMemcached(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed (make deps installs it)")
	}
	const reqs = "set a 0 0 1\r\nx\r\nget a b\r\nset b 0 0 1 noreply\r\ny\r\ndelete zz noreply\r\n" +
		"gets a b\r\nincr a 1\r\ndelete a\r\nbogus\r\nmg b v\r\nms c 1 T0\r\nz\r\ntouch b 10\r\nflush_all 0\r\n" +
		"verbosity 2\r\n"
	user := []string{}
	if runningAsRoot() {
		user = []string{"-u", "nobody"}
	}
	m := connLines(runLogged(t, bin, append([]string{"-U", "0", "-vv"}, user...), nil, reqs, true))
	h := connLines(runLogged(t, os.Args[0], append([]string{"-vv"}, user...), []string{"HANDOFFD_MAIN=1"}, reqs, true))
	// The one reply that differs by design: handoffd's version names it.
	for i, l := range h {
		h[i] = strings.Replace(l, "VERSION "+protocolVersion, "VERSION 1.6.18", 1)
	}
	if strings.Join(h, "\n") != strings.Join(m, "\n") {
		t.Errorf("-vv logs differ:\nhandoffd:\n  %s\nmemcached:\n  %s", strings.Join(h, "\n  "), strings.Join(m, "\n  "))
	}
	if len(m) < 20 {
		t.Errorf("memcached -vv logged only %d connection lines: %q", len(m), m)
	}
	// Turned off: nothing after the verbosity command but its own line.
	off := "set a 0 0 1\r\nx\r\nverbosity 1\r\nget a\r\n"
	h = connLines(runLogged(t, os.Args[0], append([]string{"-vv"}, user...), []string{"HANDOFFD_MAIN=1"}, off, false))
	if want := []string{"<N new auto-negotiating client connection", "N: Client using the ascii protocol", "<N set a 0 0 1", ">N STORED", "<N verbosity 1"}; strings.Join(h, "\n") != strings.Join(want, "\n") {
		t.Errorf("after verbosity 1, handoffd logged:\n  %s\nwant:\n  %s", strings.Join(h, "\n  "), strings.Join(want, "\n  "))
	}
}

// memcachedTool is memcached's own memcached-tool, from Debian's memcached
// package.
const memcachedTool = "/usr/share/memcached/scripts/memcached-tool"

// requireMemcachedTool skips the test when memcached-tool or perl is
// missing.
func requireMemcachedTool(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("perl")
	if _, serr := os.Stat(memcachedTool); err != nil || serr != nil {
		t.Skip("memcached-tool or perl missing (make deps installs memcached)")
	}
}

// runMemcachedTool runs memcached-tool's cmd against addr, bounded, and
// returns what it printed to standard output; an error carries what it
// printed to standard error.
func runMemcachedTool(t *testing.T, addr, cmd string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "perl", memcachedTool, addr, cmd).Output()
	if ctx.Err() != nil {
		t.Fatalf("memcached-tool %s: no result in 20 s; output so far:\n%s", cmd, out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return out, err
}

// TestMemcachedToolDump: memcached's own memcached-tool (Debian's
// memcached package) dumps handoffd's items through lru_crawler metadump,
// URI-encoded keys decoded, as add commands that restore them.
func TestMemcachedToolDump(t *testing.T) {
	requireMemcachedTool(t)
	_, addr, _ := startDaemon(t, "-p", "0", "-l", "127.0.0.1")
	addr = strings.TrimPrefix(addr, "tcp://")
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("set plain 5 0 3\r\nabc\r\nset k%x 7 0 2\r\nhi\r\nversion\r\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 64)
	for buf := make([]byte, 256); !bytes.Contains(got, []byte("VERSION")); {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	out, err := runMemcachedTool(t, addr, "dump")
	if err != nil {
		t.Fatalf("memcached-tool dump: %v\n%s", err, out)
	}
	dump := strings.ReplaceAll(string(out), "\r\n", "\n") // the tool writes each value as it was sent
	for _, want := range []string{"add plain 5 0 3\nabc\n", "add k%x 7 0 2\nhi\n"} {
		if !strings.Contains(dump, want) {
			t.Errorf("memcached-tool dump lacks %q:\n%s", want, out)
		}
	}
}

// TestMemcachedToolReports: memcached-tool's display, stats, settings and
// sizes read handoffd as they read memcached: each exits 0 and prints what
// it prints of memcached (display a row per slab class in use, stats and
// settings their keys, sizes the sizes status).
func TestMemcachedToolReports(t *testing.T) {
	requireMemcachedTool(t)
	_, addr, _ := startDaemon(t, "-p", "0", "-l", "127.0.0.1")
	addr = strings.TrimPrefix(addr, "tcp://")
	c, err := reliability.Dial(addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string][]string{
		"display":  {"Item_Size", "\n  1 "},
		"stats":    {"curr_items", "get_hits", "limit_maxbytes"},
		"settings": {"maxbytes", "item_size_max", "binding_protocol"},
		"sizes":    {"sizes_status"},
	} {
		out, err := runMemcachedTool(t, addr, cmd)
		if err != nil {
			t.Errorf("memcached-tool %s: %v\n%s", cmd, err, out)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("memcached-tool %s lacks %q:\n%s", cmd, w, out)
			}
		}
	}
}

// TestShutdownCommand: with -A the shutdown command stops handoffd as
// SIGTERM does (exit 0, the stop record written); without it the command is
// refused, as memcached refuses it.
func TestShutdownCommand(t *testing.T) {
	cmd, addr, _ := startDaemon(t, "-p", "0", "-l", "127.0.0.1", "-A")
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("shutdown bogus\r\nshutdown\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(c)
	if string(rest) != "CLIENT_ERROR invalid shutdown mode\r\n" {
		t.Errorf("shutdown bogus, shutdown: %q, want the mode refused, then a close", rest)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("handoffd after shutdown: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("handoffd still running 20 s after the shutdown command")
	}
}
