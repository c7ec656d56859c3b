package reactor

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzCloseBeforeReuse checks P6 close before reuse (spec/SPEC.md) on
// connection patterns the input chooses: the first byte sizes the server
// (1–3 Workers), each further byte is one client, closed by the server
// (Conn.Close, low bit set) or by the client, all run at once so that fds are
// reused at once. peerCheck compares each fd's peer in OnClose with the one
// it had in OnOpen. Seeds: testdata/fuzz/FuzzCloseBeforeReuse.
func FuzzCloseBeforeReuse(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0})
	f.Add([]byte{2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		clients := data[1:min(len(data), 33)]
		h := &peerCheck{peers: map[uint64]string{}}
		s := startServer(t, Config{Workers: 1 + int(data[0])%3, Logger: p6Logger()}, h)
		addr := strings.TrimPrefix(s.Addrs()[0], "tcp://")
		var wg sync.WaitGroup
		errs := make(chan error, len(clients))
		for i, b := range clients {
			wg.Go(func() { errs <- closeOnce(addr, b&1 != 0, i) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for st := s.Stats(); st.CurrConns != 0 || st.TotalConns != uint64(len(clients)); st = s.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("not every connection was closed: %+v", st)
			}
			time.Sleep(time.Millisecond)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.bad != "" {
			t.Fatal(h.bad)
		}
	})
}
