package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	gomc "github.com/bradfitz/gomemcache/memcache"

	"github.com/handoffd/handoff/reliability"
)

// TestMain lets the test binary run as handoffd itself (HANDOFFD_MAIN=1), so
// the subprocess tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("HANDOFFD_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestFlags: bad flags exit 2 with the reason, -h exits 0 with the usage.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-h"}, 0, "usage: handoffd"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-p", "70000"}, 2, "not a port"},
		{[]string{"-t", "0"}, 2, "at least 1"},
		{[]string{"-m", "x"}, 2, "-m"},
		{[]string{"-I", "100"}, 2, "-I"},
		{[]string{"-I", "2g"}, 2, "-I"},
		{[]string{"-m", "1", "-I", "1m"}, 2, "more than half"},
		{[]string{"-o", "modern"}, 2, "unknown option"},
		{[]string{"-o", "idle_timeout=x"}, 2, "idle_timeout"},
		{[]string{"-U", "11211"}, 2, "UDP"},
		{[]string{"-notify", "smoke"}, 2, "pipe or eventfd"},
		{[]string{"extra"}, 2, "unexpected argument"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.msg) {
			t.Errorf("handoffd %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, stderr.String(), c.code, c.msg)
		}
	}
}

func TestParseFlagsValues(t *testing.T) {
	o, code := parseFlags([]string{"-l", "127.0.0.1,::1,127.0.0.2:9000", "-p", "1234", "-I", "512k", "-m", "128", "-o", "idle_timeout=30", "-vv", "-s", "/tmp/x.sock"}, io.Discard)
	if o == nil {
		t.Fatalf("exit %d", code)
	}
	want := []string{"tcp://127.0.0.1:1234", "tcp://[::1]:1234", "tcp://127.0.0.2:9000", "unix:///tmp/x.sock"}
	if fmt.Sprint(o.listen) != fmt.Sprint(want) {
		t.Errorf("listen %v, want %v", o.listen, want)
	}
	if o.itemMax != 512<<10 || o.maxBytes != 128<<20 || o.idle != 30*time.Second || !o.vv {
		t.Errorf("parsed %+v", o)
	}
	if o, _ := parseFlags([]string{"-s", "/tmp/y.sock"}, io.Discard); o == nil || len(o.listen) != 1 || o.listen[0] != "unix:///tmp/y.sock" {
		t.Errorf("-s alone must replace TCP: %+v", o)
	}
}

// TestPlanFDLimit: the soft limit is raised to what -c needs, capped at the
// hard limit, and a shortfall is reported rather than fatal.
func TestPlanFDLimit(t *testing.T) {
	for _, c := range []struct {
		needed, cur, hard, newCur uint64
		short                     bool
	}{
		{1000, 1024, 4096, 1024, false},
		{2000, 1024, 4096, 2000, false},
		{9000, 1024, 4096, 4096, true},
	} {
		l := planFDLimit(c.needed, c.cur, c.hard)
		if l.cur != c.newCur || l.short != c.short {
			t.Errorf("plan(%d, %d, %d) = %+v, want cur %d short %v", c.needed, c.cur, c.hard, l, c.newCur, c.short)
		}
	}
}

var listening = regexp.MustCompile(`listening on (\S+)`)

// startDaemon runs handoffd as a subprocess and returns its first address.
func startDaemon(t *testing.T, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HANDOFFD_MAIN=1")
	pr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	log := &bytes.Buffer{}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- strings.Split(m[1], ",")[0]
			}
		}
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("handoffd exited before listening")
		}
		return cmd, addr, log
	case <-time.After(30 * time.Second):
		t.Fatal("handoffd did not print its address within 30 s")
	}
	return nil, "", nil
}

// TestSIGTERMExitsZero: a running handoffd with a client connected stops on
// SIGTERM and exits 0 (P7 clean shutdown at process level).
func TestSIGTERMExitsZero(t *testing.T) {
	cmd, addr, _ := startDaemon(t, "-p", "0", "-t", "2")
	mc := gomc.New(strings.TrimPrefix(addr, "tcp://"))
	mc.Timeout = 5 * time.Second
	if err := mc.Set(&gomc.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if it, err := mc.Get("k"); err != nil || string(it.Value) != "v" {
		t.Fatalf("get: %v %v", it, err)
	}
	idle, err := net.Dial("tcp", strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Await the server's answer, so the connection is registered with a
	// Worker and not still in the listen backlog, where closing the listener
	// would make the kernel reset it rather than the server close it.
	if _, err := idle.Write([]byte("version\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(idle).ReadString('\n'); err != nil || !strings.HasPrefix(line, "VERSION ") {
		t.Fatalf("version on the idle connection: %q %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("handoffd after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("handoffd still running 30 s after SIGTERM")
	}
	// The idle connection was closed by the server.
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection after shutdown: %v, want EOF", err)
	}
}

// TestUnixSocket: -s serves the protocol on a unix socket.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "h.sock")
	cmd, addr, _ := startDaemon(t, "-s", sock)
	if addr != "unix://"+sock {
		t.Fatalf("address %q", addr)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "set k 0 0 2\r\nhi\r\nget k\r\n")
	want := "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n"
	got := make([]byte, len(want))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("got %q, %v", got, err)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v, want exit 0", err)
	}
}

// TestIdleTimeoutOption: -o idle_timeout=1 closes a silent connection, and
// stats counts it as an idle kick.
func TestIdleTimeoutOption(t *testing.T) {
	_, addr, _ := startDaemon(t, "-p", "0", "-o", "idle_timeout=1")
	hostport := strings.TrimPrefix(addr, "tcp://")
	silent, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent connection: %v, want EOF from the idle timeout", err)
	}
	st, err := reliability.StatsOf(hostport)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if st["idle_kicks"] != "1" {
		t.Fatalf("stats after an idle kick: idle_kicks %q, want 1 (%v)", st["idle_kicks"], st)
	}
}

// TestLargeItemLimit: with -I 8m a value of nearly 8 MiB round-trips (the
// reactor's input limit follows -I), and one over it is refused without
// closing the connection.
func TestLargeItemLimit(t *testing.T) {
	_, addr, _ := startDaemon(t, "-p", "0", "-I", "8m", "-m", "64")
	mc := gomc.New(strings.TrimPrefix(addr, "tcp://"))
	mc.Timeout = 20 * time.Second
	val := bytes.Repeat([]byte("0123456789abcdef"), (8<<20-1024)/16)
	if err := mc.Set(&gomc.Item{Key: "big", Value: val}); err != nil {
		t.Fatal(err)
	}
	it, err := mc.Get("big")
	if err != nil || !bytes.Equal(it.Value, val) {
		t.Fatalf("get big: %v", err)
	}
	if err := mc.Set(&gomc.Item{Key: "huge", Value: make([]byte, 9<<20)}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("9 MiB set: %v, want object too large", err)
	}
	if err := mc.Set(&gomc.Item{Key: "after", Value: []byte("ok")}); err != nil {
		t.Fatalf("set after refusal: %v", err)
	}
}
