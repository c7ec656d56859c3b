package reactor_test

import (
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
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
		s := reactortest.Serve(t, reactor.Config{Workers: 1 + int(data[0])%3}, h)
		byServer := make([]bool, len(clients))
		for i, b := range clients {
			byServer[i] = b&1 != 0
		}
		if err := closeRound(s, byServer); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.bad != "" {
			t.Fatal(h.bad)
		}
	})
}
