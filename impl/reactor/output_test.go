package reactor_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// smallBuffer is the SO_SNDBUF of the server's sockets and the SO_RCVBUF of
// the test's clients in these tests: the kernel's floor, so that a few
// kilobytes fill a connection and nearly every send is short.
const smallBuffer = 4096

// pattern returns n bytes whose value depends on their offset modulo a
// prime, so a lost, repeated or reordered chunk of any power-of-two size
// shows as a wrong byte.
func pattern(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((from + i) % 251)
	}
	return b
}

// bulk answers "send N\n" with N pattern bytes in three Writes (half, one
// byte, the rest: the later ones queue behind the first's unsent part), and
// "close N\n" with N bytes and a Close, reporting the output still pending
// when it called Close.
type bulk struct {
	reactor.BuiltinHandler
	pending chan int   // OutputLen at each Close
	closed  chan error // each OnClose's error
	tail    *reactortest.Tail
}

func (h *bulk) OnData(c *reactor.Conn, in []byte) int {
	i := bytes.IndexByte(in, '\n')
	if i < 0 {
		return 0
	}
	var verb string
	var n int
	if _, err := fmt.Sscanf(string(in[:i+1]), "%s %d\n", &verb, &n); err != nil {
		_ = c.Close()
		return i + 1
	}
	half := n / 2
	_ = c.Write(pattern(0, half))
	_ = c.Write(pattern(half, 1))
	_ = c.Write(pattern(half+1, n-half-1))
	if verb == "close" {
		_ = c.Close()
		h.pending <- c.OutputLen()
	}
	return i + 1
}

func (h *bulk) OnClose(_ *reactor.Conn, err error) { h.closed <- err }

// readPattern reads n bytes in reads of at most step bytes and checks each
// against the pattern at its offset.
func readPattern(t *testing.T, tail *reactortest.Tail, nc net.Conn, n, step int) {
	t.Helper()
	buf := make([]byte, step)
	for off := 0; off < n; {
		k, err := nc.Read(buf[:min(step, n-off)])
		if want := pattern(off, k); !bytes.Equal(buf[:k], want) {
			at := 0
			for at < k && buf[at] == want[at] {
				at++
			}
			tail.Fatalf(t, "P9: byte %d of %d is %d, want %d", off+at, n, buf[at], want[at])
		}
		off += k
		if err != nil {
			tail.Fatalf(t, "P9: after %d of %d bytes: %v", off, n, err)
		}
	}
}

func serveBulk(t *testing.T) (*reactor.Server, *bulk) {
	h := &bulk{pending: make(chan int, 1), closed: make(chan error, 1), tail: reactortest.NewTail(64)}
	cfg := reactor.Config{Workers: 1, Socket: reactor.SocketOptions{SendBuffer: smallBuffer}, Trace: h.tail.Record}
	return reactortest.Serve(t, cfg, h), h
}

// TestCloseFlushesToSlowReader checks P9's promise for Close: a handler that
// writes far more than the socket buffers hold and closes at once has all of
// it delivered, byte for byte, to a client that reads in small pieces, then
// a clean EOF (not a reset), and OnClose reports a clean close.
func TestCloseFlushesToSlowReader(t *testing.T) {
	const n = 4 << 20
	s, h := serveBulk(t)
	nc := reactortest.DialSlow(t, s.Addrs()[0], smallBuffer)
	if _, err := fmt.Fprintf(nc, "close %d\n", n); err != nil {
		t.Fatal(err)
	}
	// Loopback's buffers are a few times smallBuffer: most of the output is
	// still the server's when it closes, or this test tests nothing.
	if pending := reactortest.Await(t, h.pending, "the handler's Close"); pending < n/2 {
		t.Fatalf("only %d of %d bytes were pending at Close: the socket took the rest", pending, n)
	}
	readPattern(t, h.tail, nc, n, 1000)
	if rest, err := io.ReadAll(nc); err != nil || len(rest) != 0 {
		h.tail.Fatalf(t, "P9: after every byte: %d more bytes, %v; want a clean EOF", len(rest), err)
	}
	if err := reactortest.Await(t, h.closed, "OnClose"); err != nil {
		t.Errorf("OnClose err = %v, want nil for a close with every byte delivered", err)
	}
}

// TestPartialWrites checks P9 output integrity through a send buffer of
// smallBuffer: long replies go out in many short sends in a row, Writes made
// while output is pending queue behind it, and a second request on the same
// connection is answered after all of the first, byte for byte.
func TestPartialWrites(t *testing.T) {
	const n = 2 << 20
	s, h := serveBulk(t)
	nc := reactortest.DialSlow(t, s.Addrs()[0], smallBuffer)
	for round := range 2 {
		sends := h.tail.Count(model.Send)
		if _, err := fmt.Fprintf(nc, "send %d\n", n); err != nil {
			t.Fatal(err)
		}
		readPattern(t, h.tail, nc, n, 1500)
		// Each send is at most a socket buffer's room; a reply that went out
		// in a few large sends never met a full socket.
		if k := h.tail.Count(model.Send) - sends; k < n/(64<<10) {
			t.Errorf("round %d: %d bytes went out in %d sends; want many partial writes", round, n, k)
		}
	}
	nc.Close()
	if err := reactortest.Await(t, h.closed, "OnClose"); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("OnClose err = %v", err)
	}
}
