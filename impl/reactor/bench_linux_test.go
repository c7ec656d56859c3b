package reactor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// The connection benchmark: connections per second and server CPU time per
// connection for the reactor and for a plain Go net server (a goroutine per
// connection), each in its own child process so that its CPU time is its
// own, measured in one run against the same client:
//
//	go test -run '^$' -bench ConnEcho -benchtime 20000x -count 3 ./impl/reactor/
//
// Each connection: connect, write 16 bytes, read the 16-byte echo, close
// (with SO_LINGER 0, so that no TIME_WAIT eats the loopback's ports).

const benchServerEnv = "HANDOFF_REACTOR_BENCH_SERVER"

// TestBenchServerChild is the server side of BenchmarkConnEcho: it serves
// until stdin closes, printing its address first and, for each "cpu" line on
// stdin, its own CPU time from getrusage.
func TestBenchServerChild(t *testing.T) {
	kind := os.Getenv(benchServerEnv)
	if kind == "" {
		t.Skip("run by BenchmarkConnEcho in a child process")
	}
	var stop func()
	switch kind {
	case "reactor":
		s := reactortest.New(t, reactor.Config{RaiseProcs: true}, reactortest.NewEcho())
		served := make(chan error, 1)
		go func() { served <- s.Serve(context.Background()) }()
		fmt.Printf("ADDR %s\n", s.Addrs()[0])
		stop = func() {
			if err := s.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
			if err := <-served; !errors.Is(err, reactor.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	case "net":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 64<<10)
					for {
						n, err := c.Read(buf)
						if n > 0 {
							if _, err := c.Write(buf[:n]); err != nil {
								return
							}
						}
						if err != nil {
							return
						}
					}
				}()
			}
		})
		fmt.Printf("ADDR %s\n", ln.Addr())
		stop = func() { ln.Close(); wg.Wait() }
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("CPU %d\n", ru.Utime.Nano()/1000+ru.Stime.Nano()/1000)
	}
	stop()
}

// benchChild is a running server child.
type benchChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	addr  string
}

func startBenchChild(b *testing.B, kind string) *benchChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchServerChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchServerEnv+"="+kind)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &benchChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !c.out.Scan() || !strings.HasPrefix(c.out.Text(), "ADDR ") {
		b.Fatalf("bench child: no address (%q)", c.out.Text())
	}
	c.addr = strings.TrimPrefix(c.out.Text(), "ADDR ")
	return c
}

// cpu returns the child's CPU time so far.
func (c *benchChild) cpu(b *testing.B) time.Duration {
	b.Helper()
	fmt.Fprintln(c.stdin, "cpu")
	if !c.out.Scan() {
		b.Fatal("bench child died")
	}
	us, err := strconv.ParseInt(strings.TrimPrefix(c.out.Text(), "CPU "), 10, 64)
	if err != nil {
		b.Fatalf("bench child: %q", c.out.Text())
	}
	return time.Duration(us) * time.Microsecond
}

func (c *benchChild) stop(b *testing.B) {
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		b.Errorf("bench child: %v", err)
	}
}

// BenchmarkConnEcho runs both servers side by side: b.N connections to
// each, in alternating rounds of up to 500, so that both see the same
// machine load (a shared 2-core machine drifts by tens of percent within a
// minute). It reports each server's connections per second and CPU time per
// connection, and the reactor's CPU time as a fraction of the net server's.
func BenchmarkConnEcho(b *testing.B) {
	kinds := []string{"reactor", "net"}
	children := map[string]*benchChild{}
	for _, kind := range kinds {
		children[kind] = startBenchChild(b, kind)
		defer children[kind].stop(b)
	}
	wall := map[string]time.Duration{}
	cpu := map[string]time.Duration{}
	b.ResetTimer()
	for done := 0; done < b.N; {
		round := min(500, b.N-done)
		for _, kind := range kinds {
			child := children[kind]
			cpu0 := child.cpu(b)
			start := time.Now()
			if err := connEchoRound(child.addr, round); err != nil {
				b.Fatalf("%s: %v", kind, err)
			}
			wall[kind] += time.Since(start)
			cpu[kind] += child.cpu(b) - cpu0
		}
		done += round
	}
	b.StopTimer()
	for _, kind := range kinds {
		b.ReportMetric(float64(b.N)/wall[kind].Seconds(), kind+"-conns/s")
		b.ReportMetric(float64(cpu[kind].Microseconds())/float64(b.N), kind+"-µs/conn")
	}
	b.ReportMetric(float64(cpu["reactor"])/float64(cpu["net"]), "reactor/net-cpu")
}

// connEchoRound makes n connections to addr from 16 client goroutines.
func connEchoRound(addr string, n int) error {
	const clients = 16
	msg := []byte("0123456789abcdef")
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			buf := make([]byte, len(msg))
			for next.Add(1) <= int64(n) {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					_, err = c.Write(msg)
					if err == nil {
						_, err = io.ReadFull(c, buf)
					}
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}
