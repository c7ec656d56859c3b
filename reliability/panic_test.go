package reliability

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// panicker echoes lines, and panics where a connection asks it to: in
// OnOpen for the connection IDs in openPanics, in OnData on "panic data",
// in OnClose after "panic close" (it closes the connection, then panics in
// its OnClose). It counts OnClose per connection ID.
type panicker struct {
	openPanics map[uint64]bool // read-only once serving

	mu       sync.Mutex
	closes   map[uint64]int   // guarded by mu
	closeErr map[uint64]error // guarded by mu
	late     []string         // callbacks after OnClose, guarded by mu
}

func (h *panicker) OnOpen(c *reactor.Conn) {
	if h.openPanics[c.ID()] {
		panic(fmt.Sprintf("seeded panic in OnOpen of conn %d", c.ID()))
	}
	_ = c.Write([]byte("hello\n"))
}

func (h *panicker) OnData(c *reactor.Conn, in []byte) int {
	h.mu.Lock()
	if h.closes[c.ID()] > 0 {
		h.late = append(h.late, fmt.Sprintf("OnData for conn %d after its OnClose", c.ID()))
	}
	h.mu.Unlock()
	switch {
	case bytes.Contains(in, []byte("panic data")):
		panic("seeded panic in OnData")
	case bytes.Contains(in, []byte("panic close")):
		c.SetContext("panic in OnClose")
		_ = c.Close()
		return len(in)
	}
	_ = c.Write(in)
	return len(in)
}

func (h *panicker) OnClose(c *reactor.Conn, err error) {
	h.mu.Lock()
	h.closes[c.ID()]++
	h.closeErr[c.ID()] = err
	h.mu.Unlock()
	if c.Context() != nil {
		panic("seeded panic in OnClose")
	}
}

// TestHandlerPanic: a panic in any of a handler's callbacks is recovered,
// counted (HandlerPanics), and closes only its own connection, with OnClose
// run exactly once; the Worker, which serves every connection here, goes on
// serving the others and new ones. Then 200 connections panic in turn, 16 at
// a time, and the process's fds return to their baseline (P5 no fd leak,
// P6: no callback after OnClose, spec/SPEC.md).
func TestHandlerPanic(t *testing.T) {
	h := &panicker{openPanics: map[uint64]bool{2: true}, closes: map[uint64]int{}, closeErr: map[uint64]error{}}
	s := reactortest.Serve(t, reactor.Config{Workers: 1}, h)
	addr := s.Addrs()[0].String()
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		return c, bufio.NewReader(c)
	}
	expectLine := func(r *bufio.Reader, want, what string) {
		t.Helper()
		if l, err := r.ReadString('\n'); err != nil || l != want {
			t.Fatalf("%s: read %q, %v; want %q", what, l, err, want)
		}
	}
	expectEOF := func(r *bufio.Reader, what string) {
		t.Helper()
		if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
			t.Fatalf("%s: read %q, %v; want EOF", what, rest, err)
		}
	}

	other, ro := dial() // conn 0
	expectLine(ro, "hello\n", "conn 0")
	baseline := len(selfFDs(t))

	data, rd := dial() // conn 1: panics in OnData
	expectLine(rd, "hello\n", "conn 1")
	fmt.Fprint(data, "panic data\n")
	expectEOF(rd, "conn 1 after a panic in OnData")
	data.Close()

	op, rp := dial() // conn 2: panics in OnOpen
	expectEOF(rp, "conn 2 after a panic in OnOpen")
	op.Close()

	cl, rc := dial() // conn 3: panics in OnClose
	expectLine(rc, "hello\n", "conn 3")
	fmt.Fprint(cl, "panic close\n")
	expectEOF(rc, "conn 3 after a panic in OnClose")
	cl.Close()

	fmt.Fprint(other, "still here\n")
	expectLine(ro, "still here\n", "conn 0 after three panics on its Worker")
	if st := s.Stats(); st.HandlerPanics != 3 {
		t.Errorf("HandlerPanics %d after three panics", st.HandlerPanics)
	}

	const more, parallel = 200, 16
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range more {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Errorf("panicking conn %d: %v", i, err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprint(c, "panic data\n")
			if got, err := io.ReadAll(c); err != nil || string(got) != "hello\n" {
				t.Errorf("panicking conn %d: read %q, %v; want hello, then EOF", i, got, err)
			}
		})
	}
	wg.Wait()
	fmt.Fprint(other, "and still\n")
	expectLine(ro, "and still\n", "conn 0 after 200 more panics")

	var st reactor.Stats
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st = s.Stats()
		if (st.CurrConns == 1 && len(selfFDs(t)) == baseline) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("HandlerPanics %d, CurrConns %d, TotalConns %d; fds %d (baseline %d)", st.HandlerPanics, st.CurrConns, st.TotalConns, len(selfFDs(t)), baseline)
	if st.HandlerPanics != 3+more || st.CurrConns != 1 {
		t.Errorf("HandlerPanics %d, CurrConns %d; want %d and 1", st.HandlerPanics, st.CurrConns, 3+more)
	}
	if n := len(selfFDs(t)); n != baseline {
		t.Errorf("P5: %d fds after the panicking connections closed, %d before", n, baseline)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := uint64(1); id < 4+more; id++ {
		if h.closes[id] != 1 || h.closeErr[id] == nil && id != 3 {
			t.Errorf("conn %d: OnClose ran %d times (err %v); want once, with the panic", id, h.closes[id], h.closeErr[id])
		}
	}
	for _, l := range h.late {
		t.Errorf("P6: %s", l)
	}
}
