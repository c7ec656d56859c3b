package main

import (
	"context"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// libmemcached runs one of libmemcached's tools (Debian's
// libmemcached-tools) with a bound, returning its output.
func libmemcached(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (make deps installs libmemcached-tools)", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: no result in 60 s; output so far:\n%s", tool, args, out)
	}
	return string(out), err
}

// TestLibmemcachedCapable: libmemcached's protocol checker, memccapable,
// passes every check of the text protocol and of the binary one against
// handoffd serving both (-B auto, memcached's default), and every binary
// check against handoffd serving binary only; memcstat reads stats over
// the binary protocol.
func TestLibmemcachedCapable(t *testing.T) {
	for _, c := range []struct {
		binding string
		args    []string
	}{{"auto", nil}, {"binary", []string{"-b"}}} {
		_, addr, _ := startDaemon(t, "-p", "0", "-l", "127.0.0.1", "-B", c.binding)
		host, port, _ := net.SplitHostPort(strings.TrimPrefix(addr, "tcp://"))
		out, err := libmemcached(t, "memccapable", append([]string{"-h", host, "-p", port}, c.args...)...)
		if err != nil || !strings.Contains(out, "All tests passed") {
			t.Errorf("memccapable %v against handoffd -B %s: %v\n%s", c.args, c.binding, err, out)
		}
		if c.binding == "binary" {
			out, err := libmemcached(t, "memcstat", "--servers="+host+":"+port, "--binary")
			if err != nil || !strings.Contains(out, "version: 1.6.18") || !strings.Contains(out, "curr_connections:") {
				t.Errorf("memcstat --binary against handoffd -B binary: %v\n%s", err, out)
			}
			// Text is no binary frame: the connection is closed unanswered.
			nc, err := net.DialTimeout("tcp", host+":"+port, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = nc.Write([]byte("version\r\n" + strings.Repeat(" ", 24)))
			if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
				t.Errorf("-B binary, a text command: read %q, %v; want a close without a reply", b, err)
			}
			nc.Close()
		}
	}
}
