package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// badCase is one malformed request and what handoffd must answer.
type badCase struct {
	name string
	send []byte
	// shutWrite half-closes the connection after send.
	shutWrite bool
	// want are the reply lines expected, in order; wantRaw, bytes expected
	// as they are (a binary response), after them.
	want    []string
	wantRaw []byte
	// closed: the server closes the connection after want; otherwise the
	// connection must still serve a version request.
	closed bool
}

func badCases() []badCase {
	long := strings.Repeat("k", 251)
	rng := rand.New(rand.NewPCG(6, 6))
	// A frame of the binary protocol, but for its first byte: text that
	// is garbage.
	garbage := []byte{'x', 0x01, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'f', 'o', 'o'}
	// A binary set without its extras, and memcached's answer before it
	// closes: Invalid arguments.
	badFrame := []byte{0x80, 0x01, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'f', 'o', 'o'}
	einval := append([]byte{0x81, 0x01, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "Invalid arguments"...)
	for range 1500 {
		b := byte(rng.IntN(256))
		if b == '\n' {
			b = 0
		}
		garbage = append(garbage, b)
	}
	garbage = append(garbage, "\r\n"...)
	overI := append([]byte("set overI 0 0 2097152\r\n"), bytes.Repeat([]byte("x"), 2<<20)...)
	overI = append(overI, "\r\nget overI\r\n"...)
	return []badCase{
		{name: "line over 2048 bytes", send: bytes.Repeat([]byte("a"), 3000), want: []string{"CLIENT_ERROR line too long"}, closed: true},
		{name: "get line over 256 KiB", send: []byte("get " + strings.Repeat("k ", 150_000)), want: []string{"CLIENT_ERROR line too long"}, closed: true},
		{name: "negative length", send: []byte("set k 0 0 -1\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "length 2^32", send: []byte("set k 0 0 4294967296\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "length beyond 2^64", send: []byte("set k 0 0 99999999999999999999999\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "length not a number", send: []byte("set k 0 0 ten\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "length 2^31-1, no data", send: []byte("set k 0 0 2147483647\r\n"), want: []string{"CLIENT_ERROR bad command line format"}, closed: false}, // memcached's int overflows at +2
		{name: "length 2^31-3, no data", send: []byte("set k 0 0 2147483645\r\n"), want: []string{"SERVER_ERROR object too large for cache"}, closed: false},
		{name: "binary garbage", send: garbage, want: nil, closed: false},
		{name: "binary frame malformed", send: badFrame, wantRaw: einval, closed: true},
		{name: "truncated value, then half-close", send: []byte("set trunc 0 0 10\r\nabc"), shutWrite: true, want: nil, closed: true},
		{name: "value longer than its length", send: []byte("set k 0 0 3\r\nabcdef\r\n"), want: []string{"CLIENT_ERROR bad data chunk", "ERROR"}}, // memcached reads n+2 bytes, then "f" is a command
		{name: "set key over 250 bytes", send: []byte("set " + long + " 0 0 1\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "get key over 250 bytes", send: []byte("get " + long + "\r\n"), want: []string{"CLIENT_ERROR bad command line format"}},
		{name: "key of 250 bytes", send: []byte("set " + long[:250] + " 0 0 1\r\nx\r\n"), want: []string{"STORED"}},
		{name: "value over -I", send: overI, want: []string{"SERVER_ERROR object too large for cache", "END"}},
	}
}

// TestBadInput sends each malformed request of badCases on its own
// connection and checks the answer: a clear error line or a close, never a
// hang, never a crash. memcached waits forever on a length it cannot parse;
// handoffd must answer at once. Between cases a control connection checks
// that the server is up and other connections are unaffected.
func TestBadInput(t *testing.T) {
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-I", "1m"}})
	baseline := baselineFDs(t, d)
	control := dialClient(t, d)
	if err := control.Set("control", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	checkControl := func(after string) {
		t.Helper()
		v, ok, err := control.Get("control")
		if err != nil || !ok || string(v) != "still here" {
			t.Fatalf("control connection after %s: %q %v %v", after, v, ok, err)
		}
	}
	for _, bc := range badCases() {
		t.Run(bc.name, func(t *testing.T) {
			c := dialClient(t, d)
			_ = c.Conn().SetDeadline(time.Now().Add(10 * time.Second))
			// The writer runs apart from the reader: a server that answers
			// and closes before reading everything must not block the test.
			wrote := make(chan error, 1)
			go func() {
				_, err := c.Conn().Write(bc.send)
				if err == nil && bc.shutWrite {
					err = c.Conn().(*net.TCPConn).CloseWrite()
				}
				wrote <- err
			}()
			for _, w := range bc.want {
				if l, err := c.Line(); err != nil || l != w {
					t.Fatalf("read %q, %v; want %q", l, err, w)
				}
			}
			if len(bc.wantRaw) > 0 {
				got := make([]byte, len(bc.wantRaw))
				if _, err := io.ReadFull(c.Reader(), got); err != nil || !bytes.Equal(got, bc.wantRaw) {
					t.Fatalf("read %x, %v; want %x", got, err, bc.wantRaw)
				}
			}
			if bc.name == "binary garbage" {
				// Every line of garbage gets an error line, then the
				// connection still serves.
				if err := <-wrote; err != nil {
					t.Fatalf("write: %v", err)
				}
				if _, err := c.Conn().Write([]byte("version\r\n")); err != nil {
					t.Fatal(err)
				}
				errs := 0
				for {
					l, err := c.Line()
					if err != nil {
						t.Fatalf("after %d error lines: %v", errs, err)
					}
					if strings.HasPrefix(l, "VERSION ") {
						break
					}
					if !strings.Contains(l, "ERROR") {
						t.Fatalf("garbage answered with %q, not an error", l)
					}
					errs++
				}
				if errs == 0 {
					t.Fatal("garbage answered with no error line")
				}
				return
			}
			if bc.closed {
				rest, err := io.ReadAll(c.Reader())
				if err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("want a close, read %q, %v", rest, err)
				}
				if len(rest) > 0 {
					t.Fatalf("want a close, read %q more", rest)
				}
				return
			}
			if bc.name == "length 2^31-3, no data" {
				// memcached swallows the announced bytes; the answer came at
				// once, without waiting for them, which is what matters.
				return
			}
			if err := <-wrote; err != nil {
				t.Fatalf("write: %v", err)
			}
			if _, err := c.Version(); err != nil {
				t.Fatalf("the connection no longer serves: %v", err)
			}
		})
		checkControl(bc.name)
	}
	if _, ok, err := control.Get("trunc"); err != nil || ok {
		t.Errorf("a truncated value was stored (ok %v, err %v)", ok, err)
	}
	control.Close()
	waitFDs(t, d, baseline)
}

// TestRandomBytes sends random bytes, then a half-close, from 1,000
// connections, 32 at a time, while a control connection keeps setting and
// getting. Every random connection must end (EOF or reset) within 10 s: the
// server never waits forever on garbage. The control connection must see
// every request answered correctly, and the fd count must return to its
// baseline (P5 no fd leak, spec/SPEC.md).
func TestRandomBytes(t *testing.T) {
	const conns, parallel = 1000, 32
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-I", "1m"}})
	baseline := baselineFDs(t, d)

	stop := make(chan struct{})
	controlDone := make(chan error, 1)
	var controlReqs int
	var controlWorst time.Duration
	go func() {
		c, err := Dial(d.Addr, 10*time.Second)
		if err != nil {
			controlDone <- err
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				controlDone <- nil
				return
			default:
			}
			start := time.Now()
			v := fmt.Appendf(nil, "value %d", i)
			if err := c.Set("control", v); err != nil {
				controlDone <- fmt.Errorf("control set %d: %w", i, err)
				return
			}
			got, ok, err := c.Get("control")
			if err != nil || !ok || !bytes.Equal(got, v) {
				controlDone <- fmt.Errorf("control get %d: %q %v %v", i, got, ok, err)
				return
			}
			controlReqs += 2
			controlWorst = max(controlWorst, time.Since(start))
		}
	}()

	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var eofs, resets, replyBytes int
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			junk := make([]byte, 1+rng.IntN(8<<10))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(d.Addr, "tcp://"), 10*time.Second)
			if err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			go func() {
				if _, err := c.Write(junk); err == nil {
					_ = c.(*net.TCPConn).CloseWrite()
				}
			}()
			reply, err := io.ReadAll(c)
			mu.Lock()
			defer mu.Unlock()
			replyBytes += len(reply)
			switch {
			case err == nil:
				eofs++
			case errors.Is(err, syscall.ECONNRESET):
				resets++
			default:
				t.Errorf("conn %d (%d random bytes): %v after %d bytes of reply: the server did not answer or close", i, len(junk), err, len(reply))
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-controlDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d random connections: %d closed after EOF, %d reset, %d reply bytes; control: %d requests, slowest set+get %v",
		conns, eofs, resets, replyBytes, controlReqs, controlWorst)
	if controlReqs == 0 {
		t.Error("the control connection completed no request")
	}
	waitFDs(t, d, baseline)
	if st := stats(t, d); st.Uint("total_connections") < conns {
		t.Errorf("total_connections %s, want at least %d", st["total_connections"], conns)
	}
}
