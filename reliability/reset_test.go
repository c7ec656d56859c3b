package reliability

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestResets has 1,000 clients, 16 at a time, abort their connection with a
// reset (SO_LINGER 0) at every stage: right after connecting, in the middle
// of a request line, in the middle of a value, and while a 512 KiB reply is
// on its way. The server must close each one (its fd count returns to the
// baseline: P5 no fd leak, spec/SPEC.md), keep serving a control connection
// throughout, and count every connection in total_connections.
func TestResets(t *testing.T) {
	const conns, parallel = 1000, 16
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-I", "1m"}})
	control := dialClient(t, d)
	if err := control.Set("big", make([]byte, 512<<10)); err != nil {
		t.Fatal(err)
	}
	baseline := baselineFDs(t, d)
	// The last stage, 10 MiB of replies, is more than the sockets hold, so
	// the reset finds output pending in the server; it is costly (the
	// server builds 4 MiB of replies before the first byte leaves), so
	// only one connection in 100 takes it.
	stages := []string{
		"",
		"get bi",
		"set k 0 0 100\r\n0123456789",
		"get big\r\n",
		strings.Repeat("get big\r\n", 20),
	}
	stageOf := func(i int) string {
		if i%100 == 99 {
			return stages[4]
		}
		return stages[i%4]
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", strings.TrimPrefix(d.Addr, "tcp://"), 10*time.Second)
			if err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			tc := c.(*net.TCPConn)
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			if s := stageOf(i); s != "" {
				if _, err := tc.Write([]byte(s)); err != nil {
					t.Errorf("conn %d: %v", i, err)
				}
				if strings.HasSuffix(s, "\r\n") {
					// Wait for the reply to start, so the reset lands in it.
					_, _ = tc.Read(make([]byte, 1))
				}
			}
			_ = tc.SetLinger(0)
			_ = tc.Close()
		})
		if i%100 == 99 {
			if _, err := control.Version(); err != nil {
				t.Fatalf("control connection after %d resets: %v", i+1, err)
			}
		}
	}
	wg.Wait()
	waitFDs(t, d, baseline)
	st, err := control.Stats()
	if err != nil {
		t.Fatalf("control stats: %v", err)
	}
	t.Logf("%d connections reset at %d stages; fds back to the baseline %d; total_connections %s, curr_connections %s",
		conns, len(stages), baseline, st["total_connections"], st["curr_connections"])
	if st.Uint("total_connections") < conns+2 || st.Uint("curr_connections") != 1 {
		t.Errorf("total_connections %s, curr_connections %s; want at least %d and 1", st["total_connections"], st["curr_connections"], conns+2)
	}
}
