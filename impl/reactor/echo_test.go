package reactor_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestEchoIntegrity checks that every byte comes back in order under
// concurrency: random payloads up to 4 MiB from concurrent clients, written
// in random chunks while the reply is read, compared byte for byte. It
// exercises the shared read buffer, held input, partial writes and the
// output buffer's flush on writable (P9 output integrity, P10 input
// integrity).
func TestEchoIntegrity(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const clients = 8
	s := reactortest.Serve(t, reactor.Config{Workers: 3, MaxOutput: 256 << 10}, reactortest.NewEcho())
	sizes := make([]int, clients)
	for i := range sizes {
		sizes[i] = 1 + rng.IntN(4<<20)
	}
	sizes[0] = 4 << 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for client, size := range sizes {
		c := reactortest.DialConn(t, s.Addrs()[0])
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		payload := make([]byte, size)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		chunkSeed := rng.Uint64()
		wg.Go(func() {
			go func() {
				r := rand.New(rand.NewPCG(chunkSeed, 2))
				for p := payload; len(p) > 0; {
					n := min(len(p), 1+r.IntN(256<<10))
					if _, err := c.Write(p[:n]); err != nil {
						return
					}
					p = p[n:]
				}
			}()
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(c, got); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, payload) {
				at := 0
				for got[at] == payload[at] {
					at++
				}
				t.Errorf("client %d: %d-byte echo differs first at byte %d", client, len(payload), at)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	// The Worker counts bytes after write(2) returns, possibly after the
	// client has read them.
	reactortest.WaitFor(t, "Stats.BytesIn and BytesOut to reach the total", func() bool {
		st := s.Stats()
		return st.BytesIn == uint64(total) && st.BytesOut == uint64(total)
	})
}
