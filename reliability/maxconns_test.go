package reliability

import (
	"io"
	"testing"
	"time"
)

// rejectLine is memcached's answer to a connection over -c (maxconns_fast).
const rejectLine = "ERROR Too many open connections"

// TestMaxConns fills handoffd's -c limit, then checks that each connection
// over it gets memcached's line and a close, that stats counts each one
// (rejected_connections), that the held connections are unaffected, and that
// closing some makes room for exactly as many new ones. The fd count returns
// to its baseline (P5 no fd leak, spec/SPEC.md).
func TestMaxConns(t *testing.T) {
	const maxConns, over = 20, 10
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-c", "20"}})
	baseline := baselineFDs(t, d)

	held := make([]*Client, maxConns)
	for i := range held {
		held[i] = dialClient(t, d)
		if _, err := held[i].Version(); err != nil {
			t.Fatalf("held conn %d: %v", i, err)
		}
	}
	expectRejected := func(what string) {
		t.Helper()
		c := dialClient(t, d)
		_ = c.Conn().SetDeadline(time.Now().Add(10 * time.Second))
		l, err := c.Line()
		if err != nil || l != rejectLine {
			t.Fatalf("%s: read %q, %v; want %q", what, l, err, rejectLine)
		}
		if rest, err := io.ReadAll(c.Reader()); err != nil || len(rest) > 0 {
			t.Fatalf("%s: after the reject line read %q, %v; want EOF", what, rest, err)
		}
	}
	for range over {
		expectRejected("connection over -c")
	}
	st, err := held[0].Stats()
	if err != nil {
		t.Fatalf("stats on a held conn: %v", err)
	}
	if st.Uint("rejected_connections") != over || st.Uint("curr_connections") != maxConns {
		t.Fatalf("rejected_connections %s, curr_connections %s; want %d and %d",
			st["rejected_connections"], st["curr_connections"], over, maxConns)
	}
	for i, c := range held {
		if _, err := c.Version(); err != nil {
			t.Fatalf("held conn %d after the rejections: %v", i, err)
		}
	}

	// Recovery: close 5, and once the server has seen them go, 5 new
	// connections are served and the next one is rejected again.
	const freed = 5
	for _, c := range held[maxConns-freed:] {
		c.Close()
	}
	took := waitFor(t, 5*time.Second, "curr_connections down to 15", func() bool {
		st, err := held[0].Stats()
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		return st.Uint("curr_connections") == maxConns-freed
	})
	for i := range freed {
		c := dialClient(t, d)
		if _, err := c.Version(); err != nil {
			t.Fatalf("new conn %d after %d closed: %v", i, freed, err)
		}
		held[maxConns-freed+i] = c
	}
	expectRejected("connection over -c after recovery")
	if st, _ = held[0].Stats(); st.Uint("rejected_connections") != over+1 {
		t.Errorf("rejected_connections %s, want %d", st["rejected_connections"], over+1)
	}
	t.Logf("rejected %s, closes seen by the server within %v", st["rejected_connections"], took.Round(time.Millisecond))
	for _, c := range held {
		c.Close()
	}
	waitFDs(t, d, baseline)
}
