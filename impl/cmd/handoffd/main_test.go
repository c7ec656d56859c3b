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
	"strconv"
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
		// $HANDOFF_IO runs every daemon a test starts on that backend, as
		// reactortest.IO does the reactor's servers (make test runs both);
		// unset, epoll, the reactor's default, which the first run tests
		// (handoffd's own, auto, is uring here).
		v := os.Getenv("HANDOFF_IO")
		if v == "" {
			v = "epoll"
		}
		os.Args = append(os.Args, "--io", v)
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
		{[]string{"--help"}, 0, "--memory-limit"},
		{[]string{"-V"}, 0, "memcached 1.6.18"},
		{[]string{"-j"}, 2, "unknown shorthand flag: 'j'"},
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"-p", "70000"}, 2, "not a port"},
		{[]string{"-p70000"}, 2, "not a port"},
		{[]string{"--port=70000"}, 2, "not a port"},
		{[]string{"-t", "0"}, 2, "at least 1"},
		{[]string{"-m", "x"}, 2, "-m"},
		{[]string{"-I", "100"}, 2, "-I"},
		{[]string{"-I", "2g"}, 2, "-I"},
		{[]string{"-m", "1", "-I", "1m"}, 2, "more than half"},
		{[]string{"-o", "bogus_option"}, 2, "illegal suboption"},
		{[]string{"-o", "idle_timeout=x"}, 2, "idle_timeout"},
		{[]string{"-U", "11211"}, 2, "UDP"},
		{[]string{"-S"}, 2, "SASL is not supported"},
		{[]string{"-Z"}, 2, "TLS is not supported"},
		{[]string{"-B", "bin"}, 2, "Invalid value for binding protocol"},
		{[]string{"-D", ""}, 2, "No delimiter specified"},
		{[]string{"-a", "999"}, 2, "octal mask"},
		{[]string{"--notify", "smoke"}, 2, "pipe or eventfd"},
		{[]string{"extra"}, 2, "unexpected argument"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), c.args, &out, &out); code != c.code || !strings.Contains(out.String(), c.msg) {
			t.Errorf("handoffd %v: exit %d, output %q; want exit %d mentioning %q", c.args, code, out.String(), c.code, c.msg)
		}
	}
}

// TestRootNeedsUser: as memcached, handoffd started as root without -u
// refuses to run (checked only when the test runs as root).
func TestRootNeedsUser(t *testing.T) {
	if !runningAsRoot() {
		t.Skip("not root")
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-p", "0", "-l", "127.0.0.1"}, &out, &out); code != exitUsage || !strings.Contains(out.String(), "without the -u switch") {
		t.Errorf("as root without -u: exit %d, %q; want %d and memcached's reason", code, out.String(), exitUsage)
	}
}

// TestMemcachedCommandLines: memcached's own forms parse — Debian's service
// line, attached values, combined and long flags, and -o options memcached
// accepts that mean nothing here — and the flags that handoffd applies take
// effect.
func TestMemcachedCommandLines(t *testing.T) {
	for _, c := range []struct {
		args  []string
		check func(*options) bool
	}{
		{[]string{"-m", "64", "-p", "11211", "-u", "memcache", "-l", "127.0.0.1", "-P", "/var/run/memcached/memcached.pid"},
			func(o *options) bool {
				return o.user == "memcache" && o.pidFile == "/var/run/memcached/memcached.pid" && o.maxBytes == 64<<20
			}},
		{[]string{"-p11212", "-t2", "-c64", "-vv"}, func(o *options) bool { return o.port == 11212 && o.threads == 2 && o.maxConns == 64 && o.verbose == 2 }},
		{[]string{"--port=11213", "--memory-limit=128", "--threads", "3", "--verbose"}, func(o *options) bool {
			return o.port == 11213 && o.maxBytes == 128<<20 && o.threads == 3 && o.verbose == 1
		}},
		{[]string{"-o", "modern,slab_reassign", "-o", "idle_timeout=5", "-f", "1.25", "-n", "48", "-C", "-M", "-k", "-L", "-A", "-r"},
			func(o *options) bool {
				return o.idle == 5*time.Second && o.shutdownCmd && o.noCAS && o.noEvict && len(o.ignored) == 5 && o.factor == 1.25 && o.minChunk == 48
			}},
		{[]string{"-f", "1.5", "-n", "100"}, func(o *options) bool { return o.factor == 1.5 && o.minChunk == 100 }},
		{[]string{"-d", "-F", "-a", "0755", "-s", "/tmp/h.sock"}, func(o *options) bool { return o.daemon && o.flushOff && o.socketMask == 0o755 }},
		// The backend: auto by default; the epoll hand-off's own flags
		// alone choose epoll, and an explicit --io wins over them.
		{[]string{}, func(o *options) bool { return o.io == "auto" }},
		{[]string{"--notify", "eventfd"}, func(o *options) bool { return o.io == "epoll" }},
		{[]string{"--wakeup", "coalesced"}, func(o *options) bool { return o.io == "epoll" }},
		{[]string{"--notify", "eventfd", "--io", "uring"}, func(o *options) bool { return o.io == "uring" }},
	} {
		o, code := parseFlags(c.args, io.Discard, io.Discard)
		if o == nil || !c.check(o) {
			t.Errorf("handoffd %v: exit %d, parsed %+v", c.args, code, o)
		}
	}
}

func TestParseFlagsValues(t *testing.T) {
	o, code := parseFlags([]string{"-l", "127.0.0.1,::1,127.0.0.2:9000", "-p", "1234", "-I", "512k", "-m", "128", "-o", "idle_timeout=30", "-vv", "-s", "/tmp/x.sock"}, io.Discard, io.Discard)
	if o == nil {
		t.Fatalf("exit %d", code)
	}
	want := []string{"tcp://127.0.0.1:1234", "tcp://[::1]:1234", "tcp://127.0.0.2:9000", "unix:///tmp/x.sock"}
	if fmt.Sprint(o.listen) != fmt.Sprint(want) {
		t.Errorf("listen %v, want %v", o.listen, want)
	}
	if o.itemMax != 512<<10 || o.maxBytes != 128<<20 || o.idle != 30*time.Second || o.verbose != 2 {
		t.Errorf("parsed %+v", o)
	}
	if o, _ := parseFlags([]string{"-s", "/tmp/y.sock"}, io.Discard, io.Discard); o == nil || len(o.listen) != 1 || o.listen[0] != "unix:///tmp/y.sock" {
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
	if runningAsRoot() {
		args = append(args, "-u", "nobody") // as memcached, handoffd refuses root without -u
	}
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

// TestDaemonLikeMemcached runs Debian's kind of service line: -d detaches
// (the command exits 0 at once, the server goes on in a session of its own),
// -P writes the server's pid and SIGTERM removes it, -a sets the unix
// socket's mode and stats settings' umask, -F refuses flush_all.
func TestDaemonLikeMemcached(t *testing.T) {
	dir, err := os.MkdirTemp("", "hd") // short: a unix socket path has 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the dropped user removes its files
		t.Fatal(err)
	}
	pidFile, sock := filepath.Join(dir, "h.pid"), filepath.Join(dir, "h.sock")
	args := []string{"-d", "-P", pidFile, "-s", sock, "-a", "0755", "-F"}
	if runningAsRoot() {
		args = append(args, "-u", "root") // the pid file's directory is root's
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "HANDOFFD_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("handoffd -d: %v\n%s", err, out)
	}
	var pid int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("-P: no pid file 20 s after handoffd -d returned")
		}
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("-a 0755: socket %v, %v", fi, err)
	}
	c, err := reliability.Dial("unix://"+sock, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.StatsGroup("settings")
	if err != nil || st["umask"] != "755" || st["flush_enabled"] != "no" {
		t.Errorf("stats settings: umask %q, flush_enabled %q (%v); want 755 and no", st["umask"], st["flush_enabled"], err)
	}
	if _, err := c.Conn().Write([]byte("flush_all\r\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := c.Line(); l != "CLIENT_ERROR flush_all not allowed" {
		t.Errorf("-F: flush_all answered %q, %v", l, err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(pidFile); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("-P: the pid file is still there 20 s after SIGTERM")
		}
	}
}
