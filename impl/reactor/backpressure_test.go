package reactor_test

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestBackpressure checks that a client that sends but never reads keeps
// the server's memory for it bounded (output at most MaxOutput, input held
// at most about one read buffer: the Worker stops reading it) while the
// other clients of the same Worker are served, and that once it reads, every
// byte comes back in order (P9 output integrity).
func TestBackpressure(t *testing.T) {
	const (
		maxOut  = 128 << 10
		readBuf = 16 << 10
		payload = 32 << 20 // more than loopback's socket buffers hold
	)
	h := reactortest.NewEcho()
	s := reactortest.Serve(t, reactor.Config{Workers: 1, MaxOutput: maxOut, ReadBuffer: readBuf}, h)

	slow := reactortest.DialConn(t, s.Addrs()[0])
	_ = slow.SetDeadline(time.Now().Add(60 * time.Second))
	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), payload/32)
	var sent atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		for p := data; len(p) > 0; {
			n, err := slow.Write(p[:min(len(p), 64<<10)])
			sent.Add(int64(n))
			if err != nil {
				writerDone <- err
				return
			}
			p = p[n:]
		}
		writerDone <- nil
	}()
	reactortest.Await(t, h.Full(), "the slow client's output to reach MaxOutput")

	// Other clients on the same Worker: full round trips while the slow one
	// is stuck.
	var wg sync.WaitGroup
	for range 4 {
		c := reactortest.DialConn(t, s.Addrs()[0])
		wg.Go(func() {
			msg := bytes.Repeat([]byte("x"), 100<<10)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("a client beside the slow one: %v", err)
			}
		})
	}
	wg.Wait()

	st := s.Stats()
	in := st.BytesIn
	if in >= payload {
		t.Errorf("the server read all %d bytes of a client that never reads: it did not stop reading", in)
	}
	// What the server read and has not sent is what it holds for the
	// slow client (and the others, done by now): its output, at most
	// MaxOutput, and input held back, about a read buffer.
	if held := int64(st.BytesIn) - int64(st.BytesOut); held > maxOut+2*readBuf {
		t.Errorf("the server holds %d bytes read and not sent for a client that does not read, over MaxOutput %d + 2 x ReadBuffer %d: it kept reading",
			held, maxOut, readBuf)
	}
	maxOutSeen, maxInSeen := h.Seen()
	if maxOutSeen > maxOut {
		t.Errorf("buffered output reached %d > MaxOutput %d", maxOutSeen, maxOut)
	}
	if maxInSeen > 2*readBuf {
		t.Errorf("held input reached %d > 2 x ReadBuffer %d: the Worker kept reading while output was full", maxInSeen, readBuf)
	}
	t.Logf("server read %d of %d bytes while the client did not read; max output %d, max input offered %d", in, payload, maxOutSeen, maxInSeen)

	got := make([]byte, payload)
	if _, err := io.ReadFull(slow, got); err != nil {
		t.Fatalf("reading the slow client's echo: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Error("P9: the slow client's echo differs from what it sent")
	}
	if err := reactortest.Await(t, writerDone, "the slow client's writer"); err != nil {
		t.Errorf("slow writer: %v", err)
	}
}
