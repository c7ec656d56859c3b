package reactor

import (
	"bytes"
	"testing"
)

// lines consumes whole "\n"-ended lines and counts them.
type lines struct {
	BuiltinHandler
	n int
}

func (l *lines) OnData(_ *Conn, in []byte) int {
	i := bytes.LastIndexByte(in, '\n') + 1
	l.n += bytes.Count(in[:i], []byte("\n"))
	return i
}

// TestHeldInputReused (P10 input integrity, and no garbage): input split
// across reads, each read ending inside a line, is held between them and
// every line is offered once, whole; in the steady state holding it
// allocates nothing, because the array a connection hands back is reused by
// the next that must hold input, and never while another holds it.
func TestHeldInputReused(t *testing.T) {
	h := &lines{}
	w := &worker{owner: owner{shared: &shared{}}, h: h, maxInput: 1 << 20}
	a, b := &Conn{}, &Conn{}
	// A read that ends inside a line (held) and one that ends at a line's
	// end (nothing held), each starting with the end of the line before.
	lines64 := string(bytes.Repeat([]byte("0123456789abcde\n"), 64))
	inside, boundary := []byte("tail\n"+lines64+"head"), []byte("tail\n"+lines64)
	w.deliver(a, inside[4:])
	w.deliver(b, inside[4:])
	allocs := testing.AllocsPerRun(100, func() {
		w.deliver(a, boundary) // a hands its array back
		w.deliver(a, inside)   // and takes it again
		w.deliver(b, boundary)
		w.deliver(b, inside)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per round of reads: held input is not reused", allocs)
	}
	// 65 lines a read (the first one starts with a bare "\n"), on 2
	// connections, over the first read and AllocsPerRun's 101 runs of two.
	if want := 2 * 65 * (1 + 101*2); h.n != want {
		t.Errorf("%d lines offered, want %d", h.n, want)
	}
	if &a.in[:1][0] == &b.in[:1][0] {
		t.Error("two connections hold input in one array")
	}
}
