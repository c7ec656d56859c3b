package reactor

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackpressure checks that a client that sends but never reads keeps
// the server's memory for it bounded (output at most MaxOutput, input held
// at most about one read buffer: the Worker stops reading it) while the
// other clients of the same Worker are served, and that once it reads, every
// byte comes back in order.
func TestBackpressure(t *testing.T) {
	const (
		maxOut  = 128 << 10
		readBuf = 16 << 10
		payload = 32 << 20 // more than loopback's socket buffers hold
	)
	h := newEcho(maxOut)
	s := startServer(t, Config{Workers: 1, MaxOutput: maxOut, ReadBuffer: readBuf}, h)

	slow := dial(t, s.Addrs()[0])
	defer slow.Close()
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
	select {
	case <-h.full:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow client's output never reached MaxOutput")
	}

	// Other clients on the same Worker: full round trips while the slow one
	// is stuck.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := dial(t, s.Addrs()[0])
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := bytes.Repeat([]byte("x"), 100<<10)
			go c.Write(msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("a client beside the slow one: %v", err)
			}
		})
	}
	wg.Wait()

	in := s.Stats().BytesIn
	if in >= payload {
		t.Errorf("the server read all %d bytes of a client that never reads: it did not stop reading", in)
	}
	h.mu.Lock()
	maxOutSeen, maxInSeen := h.maxOut, h.maxIn
	h.mu.Unlock()
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
		t.Error("the slow client's echo differs from what it sent")
	}
	if err := <-writerDone; err != nil {
		t.Errorf("slow writer: %v", err)
	}
}
