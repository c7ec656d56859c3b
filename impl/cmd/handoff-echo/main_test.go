package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "-notify"},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"-notify", "smoke"}, 2, `-notify "smoke": want pipe or eventfd`},
		{[]string{"-wakeup", "never"}, 2, `-wakeup "never"`},
		{[]string{"-balance", "random"}, 2, `-balance "random"`},
		{[]string{"-t", "0"}, 2, "at least 1"},
		{[]string{"-p", "70000"}, 2, "not a port"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-l", "256.0.0.1", "-p", "0"}, 1, "handoff-echo: reactor:"},
	} {
		var out reactortest.LogBuffer
		if code := run(context.Background(), tc.args, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("run(%q) = %d, output:\n%s\nwant %d and %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}

// TestEchoAndGracefulStop runs the server on an ephemeral TCP port and a
// unix socket, echoes over both, then cancels its context as SIGTERM does
// and expects exit status 0.
func TestEchoAndGracefulStop(t *testing.T) {
	dir, err := os.MkdirTemp("", "he")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "echo.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs reactortest.LogBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-l", "127.0.0.1", "-p", "0", "-s", sock, "-t", "2", "-notify", "eventfd", "-wakeup", "coalesced"}, &logs)
	}()
	re := regexp.MustCompile(`addrs=tcp://([0-9.:]+),unix://`)
	deadline := time.Now().Add(20 * time.Second)
	var m []string
	for m == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
		m = re.FindStringSubmatch(logs.String())
	}
	for _, a := range [][2]string{{"tcp", m[1]}, {"unix", sock}} {
		c, err := net.DialTimeout(a[0], a[1], 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "hello "+a[0]+"\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "hello "+a[0]+"\n" {
			t.Errorf("%s: echo %q, %v", a[0], line, err)
		}
		c.Close()
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit status %d after the stop signal, want 0; logs:\n%s", c, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
	if !strings.Contains(logs.String(), "total_connections=2") {
		t.Errorf("final stats missing from logs:\n%s", logs.String())
	}
}
