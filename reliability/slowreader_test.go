package reliability

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowReaders has clients pipeline gets of a 512 KiB value and never read
// the replies: 2,000 gets each, sent 20 at a time over a fifth of a second as
// a pipelining client sends them, a gigabyte of replies per client.
// gnet's write buffer grows without bound here; handoffd's reactor stops
// reading a connection whose output is over MaxOutput, so its resident
// memory must grow by less than 128 MiB, and the other clients' requests
// must still complete within 200 ms.
func TestSlowReaders(t *testing.T) {
	const (
		valueSize = 512 << 10
		slow      = 2
		chunks    = 100
		perChunk  = 20
		gets      = chunks * perChunk
		rssBound  = 128 << 20
		bound     = 200 * time.Millisecond
		requests  = 300
	)
	d := startPlainDaemon(t, Options{Args: []string{"-t", "2", "-m", "64", "-I", "1m"}})
	setup := dialClient(t, d)
	big := bytes.Repeat([]byte("s"), valueSize)
	if err := setup.Set("big", big); err != nil {
		t.Fatal(err)
	}
	if err := setup.Set("small", []byte("v")); err != nil {
		t.Fatal(err)
	}
	before := proc(t, d).RSS

	// The requests arrive in many reads, so a server that kept reading
	// would keep producing replies.
	chunk := []byte(strings.Repeat("get big\r\n", perChunk))
	var writers sync.WaitGroup
	for i := range slow {
		c := dialClient(t, d)
		writers.Go(func() {
			for k := range chunks {
				_ = c.Conn().SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Conn().Write(chunk); err != nil {
					t.Errorf("slow reader %d: writing gets %d: %v", i, k*perChunk, err)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	writers.Wait()
	// The server is stuck on the slow readers once bytes_written stops
	// growing by more than the stats replies themselves (a few KiB): their
	// sockets and output buffers are full.
	var last uint64
	stalled := 0
	waitFor(t, 30*time.Second, "bytes_written to stop growing", func() bool {
		w := stats(t, d).Uint("bytes_written")
		if w-last < 16<<10 {
			stalled++
		} else {
			last, stalled = w, 0
		}
		time.Sleep(50 * time.Millisecond)
		return stalled >= 6
	})
	wantStalled := uint64(slow) * gets * valueSize
	if last >= wantStalled {
		t.Fatalf("the server wrote %d bytes, every reply: the readers were not slow", last)
	}

	// Other clients while the slow readers hold their output.
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	for g := range 2 {
		c := dialClient(t, d)
		wg.Go(func() {
			for i := range requests / 2 {
				start := time.Now()
				var err error
				if i%2 == 0 {
					err = c.Set(fmt.Sprintf("k%d", g), []byte("value"))
				} else {
					_, _, err = c.Get("small")
				}
				took := time.Since(start)
				if err != nil {
					t.Errorf("client %d request %d: %v", g, i, err)
					return
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	after := proc(t, d).RSS
	slices.Sort(lat)
	if len(lat) != requests {
		t.Fatalf("%d of %d requests completed", len(lat), requests)
	}
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("RSS %d MiB -> %d MiB (+%d MiB) with %d slow readers leaving %d MiB of replies unread; other requests: p50 %v p99 %v max %v",
		before>>20, after>>20, (after-before)>>20, slow, (wantStalled-last)>>20, p50, p99, worst)
	if after-before >= rssBound {
		t.Errorf("resident memory grew by %d MiB with slow readers, bound %d MiB: output is not bounded", (after-before)>>20, rssBound>>20)
	}
	if worst > bound {
		t.Errorf("other clients' slowest request took %v while slow readers were stuck, bound %v (p50 %v, p99 %v)", worst, bound, p50, p99)
	}
}
