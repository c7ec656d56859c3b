package reactor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/procstat"
)

const emfileChildEnv = "HANDOFF_REACTOR_EMFILE_CHILD"

// ldGreeter greets each connection with the server's ListenDisabled count.
type ldGreeter struct {
	reactor.BuiltinHandler
	s *reactor.Server
}

func (h *ldGreeter) OnBoot(s *reactor.Server) error {
	h.s = s
	return nil
}

func (h *ldGreeter) OnOpen(c *reactor.Conn) {
	_ = c.Write(fmt.Appendf(nil, "id=%d ld=%d\n", c.ID(), h.s.Stats().ListenDisabled))
}

// TestEMFILEChild is the server side of TestEMFILE, run in a child process
// whose RLIMIT_NOFILE leaves room for only a few connections. It prints its
// address and logs to stdout, and shuts down when stdin closes.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "" {
		t.Skip("run by TestEMFILE in a child process")
	}
	h := &ldGreeter{}
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	s := reactortest.New(t, reactor.Config{Workers: 1, Logger: log}, h)
	lim := unix.Rlimit{Cur: uint64(countFDs(t) + 10)}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim.Max = old.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	fmt.Printf("ADDR %s\n", s.Addrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, reactor.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

// cpuTicks returns a process's user+system CPU time in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := procstat.CPUTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEMFILE checks memcached's behaviour on fd exhaustion in a server whose
// RLIMIT_NOFILE is low: it keeps going, does not spin while accept fails
// with EMFILE (its CPU time over half a second stays far below a core),
// counts the episode (ListenDisabled), and serves the waiting connections as
// soon as fds free up (re-armed when a connection closes). P1 exactly-once:
// every client is served exactly once in the end.
func TestEMFILE(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestEMFILEChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		stdin.Close()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("child: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Error("child did not exit after stdin closed")
		}
	}()

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	await := func(what string) string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited before %q:\n%s", what, stderr.String())
				}
				if strings.Contains(l, what) {
					return l
				}
			case <-timeout:
				t.Fatalf("timed out waiting for the child to print %q", what)
			}
		}
	}
	addr := strings.TrimPrefix(await("ADDR "), "ADDR ")

	const clients = 40
	type greeting struct {
		c    net.Conn
		line string
		err  error
	}
	greeted := make(chan greeting, clients)
	for range clients {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			greeted <- greeting{c, line, err}
		}()
	}
	await("listeners disabled")

	// Exhausted: the waiting clients sit in the backlog. Measure the
	// child's CPU over a fixed window.
	const window = 500 * time.Millisecond
	before := cpuTicks(t, cmd.Process.Pid)
	time.Sleep(window)
	spent := cpuTicks(t, cmd.Process.Pid) - before
	ticksPerWindow := int64(window.Seconds() * procstat.TicksPerSecond)
	if spent > ticksPerWindow/3 {
		t.Errorf("child used %d of %d possible ticks while out of fds: it spins", spent, ticksPerWindow)
	}
	t.Logf("child CPU while out of fds: %d ticks of %d", spent, ticksPerWindow)

	// Close each served client: every close frees an fd and re-arms the
	// listener, until all have been served.
	var afterLD int
	for i := range clients {
		select {
		case g := <-greeted:
			if g.err != nil {
				t.Fatalf("client %d: %v", i, g.err)
			}
			var id, ld int
			if _, err := fmt.Sscanf(g.line, "id=%d ld=%d", &id, &ld); err != nil {
				t.Fatalf("greeting %q: %v", g.line, err)
			}
			afterLD = max(afterLD, ld)
			g.c.Close()
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d clients served after fds freed up", i, clients)
		}
	}
	if afterLD == 0 {
		t.Error("ListenDisabled stayed 0 through an EMFILE episode")
	}
}
