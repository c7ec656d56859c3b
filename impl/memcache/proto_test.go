package memcache

import (
	"bytes"
	"strings"
	"testing"
)

// TestProcessBackpressure: once the replies reach outLimit, Process stops and
// returns what it consumed so far; the rest is handled on the next call, in
// order.
func TestProcessBackpressure(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	val := strings.Repeat("v", 1000)
	in := []byte("set k 0 0 1000\r\n" + val + "\r\n" + strings.Repeat("get k\r\n", 10))
	n, out, closeNow := s.Process(in, nil, 2500)
	if closeNow {
		t.Fatal("closed")
	}
	// STORED, then gets until the replies pass 2500 bytes: 3 of them.
	one := "VALUE k 0 1000\r\n" + val + "\r\nEND\r\n"
	if want := "STORED\r\n" + strings.Repeat(one, 3); string(out) != want {
		t.Fatalf("first call produced %d bytes, want %d", len(out), len(want))
	}
	if rest := len(in) - n; rest != 7*len("get k\r\n") {
		t.Fatalf("left %d bytes, want the 7 remaining gets", rest)
	}
	n2, out2, _ := s.Process(in[n:], nil, 1<<20)
	if n2 != len(in)-n || string(out2) != strings.Repeat(one, 7) {
		t.Fatalf("second call: consumed %d, %d bytes out", n2, len(out2))
	}
}

// TestProcessReqsPerEvent: after ReqsPerEvent commands with output pending,
// Process yields (memcached's -R), counting a conn_yield.
func TestProcessReqsPerEvent(t *testing.T) {
	st, _ := newStore(t, StoreConfig{})
	cache := NewCache(st, Settings{ReqsPerEvent: 2}, nil)
	s := cache.NewSession()
	in := []byte("version\r\nversion\r\nversion\r\n")
	n, out, _ := s.Process(in, nil, 1<<20)
	if n != 2*len("version\r\n") || bytes.Count(out, []byte("VERSION")) != 2 {
		t.Fatalf("consumed %d, out %q", n, out)
	}
	if cache.connYields.Load() != 1 {
		t.Fatalf("conn_yields %d", cache.connYields.Load())
	}
	// Commands without replies do not yield: there is nothing to flush that
	// would bring the reactor back.
	in = []byte("set a 0 0 1 noreply\r\nx\r\nset b 0 0 1 noreply\r\nx\r\nset c 0 0 1 noreply\r\nx\r\n")
	if n, _, _ := s.Process(in, nil, 1<<20); n != len(in) {
		t.Fatalf("noreply commands: consumed %d of %d", n, len(in))
	}
}

// TestProcessSwallowsInPieces: a refused value is discarded as it arrives,
// never held: every call consumes all it is given.
func TestProcessSwallowsInPieces(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	n, out, _ := s.Process([]byte("set big 0 0 3000000\r\n"), nil, 1<<20)
	if n != len("set big 0 0 3000000\r\n") || string(out) != replyTooLarge {
		t.Fatalf("line: consumed %d, out %q", n, out)
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	sent := 0
	for sent+len(chunk) <= 3000000 {
		if n, out, _ := s.Process(chunk, nil, 1<<20); n != len(chunk) || len(out) != 0 {
			t.Fatalf("at %d: consumed %d of %d, out %q", sent, n, len(chunk), out)
		}
		sent += len(chunk)
	}
	tail := append(bytes.Repeat([]byte("x"), 3000000-sent), "\r\nversion\r\n"...)
	if n, out, _ := s.Process(tail, nil, 1<<20); n != len(tail) || string(out) != "VERSION 1.6.18\r\n" {
		t.Fatalf("tail: consumed %d of %d, out %q", n, len(tail), out)
	}
}

// TestProcessWaitsForValue: an incomplete data block consumes nothing (the
// reactor keeps it), and the line limit does not apply to the value.
func TestProcessWaitsForValue(t *testing.T) {
	s := newTestCache(t, &fakeClock{now: transcriptEpoch}).NewSession()
	in := append([]byte("set k 0 0 10000\r\n"), bytes.Repeat([]byte("y"), 9000)...)
	if n, out, closeNow := s.Process(in, nil, 1<<20); n != 0 || len(out) != 0 || closeNow {
		t.Fatalf("partial value: consumed %d, out %q, close %v", n, out, closeNow)
	}
	in = append(in, append(bytes.Repeat([]byte("y"), 1000), "\r\n"...)...)
	if n, out, _ := s.Process(in, nil, 1<<20); n != len(in) || string(out) != "STORED\r\n" {
		t.Fatalf("whole value: consumed %d of %d, out %q", n, len(in), out)
	}
}
