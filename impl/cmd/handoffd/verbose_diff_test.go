package main

import (
	"bytes"
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
// sends reqs on one connection once it listens, reads until the server has
// answered the last (a version, whose reply ends the exchange), closes it
// and, when its close is logged, awaits that line, then stops the server
// with SIGTERM and returns what it wrote.
func runLogged(t *testing.T, name string, args []string, env []string, reqs string, closeLogged bool) string {
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
	if _, err := c.Write([]byte(reqs + "version\r\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("VERSION ")) {
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
// own.
func connLines(log string) []string {
	re := regexp.MustCompile(`^([<>]?)\d+(:? )`)
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if re.MatchString(l) && !strings.Contains(l, "server listening") {
			out = append(out, re.ReplaceAllString(l, "${1}N${2}"))
		}
	}
	return out
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

// TestMemcachedToolDump: memcached's own memcached-tool (Debian's
// memcached package) dumps handoffd's items through lru_crawler metadump,
// URI-encoded keys decoded, as add commands that restore them.
func TestMemcachedToolDump(t *testing.T) {
	const tool = "/usr/share/memcached/scripts/memcached-tool"
	perl, err := exec.LookPath("perl")
	if _, serr := os.Stat(tool); err != nil || serr != nil {
		t.Skip("memcached-tool or perl missing (make deps installs memcached)")
	}
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
	cmd := exec.Command(perl, tool, addr, "dump")
	out, err := cmd.Output()
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
