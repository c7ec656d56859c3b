package reliability

import (
	"io"
	"testing"
	"time"
)

// TestIdleTimeout runs handoffd with -o idle_timeout=1 (seconds, as
// memcached takes it). Connections that send nothing for a second are closed
// (an EOF, not before the second is up), a connection that keeps asking is
// not, and stats counts each close as idle_kicks, memcached's name.
func TestIdleTimeout(t *testing.T) {
	const idle, timeout = 5, time.Second
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-o", "idle_timeout=1"}})
	baseline := baselineFDs(t, d)
	busy := dialClient(t, d)

	type kicked struct {
		i     int
		after time.Duration
		rest  []byte
		err   error
	}
	kicks := make(chan kicked, idle)
	for i := range idle {
		c := dialClient(t, d)
		if _, err := c.Version(); err != nil {
			t.Fatal(err)
		}
		last := time.Now()
		_ = c.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
		go func() {
			rest, err := io.ReadAll(c.Reader())
			kicks <- kicked{i, time.Since(last), rest, err}
		}()
	}
	// The busy connection asks every 100 ms until every idle one is gone.
	var slowest, fastest time.Duration
	fastest = time.Hour
	for got := 0; got < idle; {
		select {
		case k := <-kicks:
			if k.err != nil || len(k.rest) > 0 {
				t.Fatalf("idle conn %d: read %q, %v; want an EOF", k.i, k.rest, k.err)
			}
			if k.after < timeout-50*time.Millisecond {
				t.Errorf("idle conn %d closed %v after its last request, before the %v timeout", k.i, k.after, timeout)
			}
			slowest, fastest = max(slowest, k.after), min(fastest, k.after)
			got++
		case <-time.After(100 * time.Millisecond):
			if _, err := busy.Version(); err != nil {
				t.Fatalf("the busy connection was closed: %v", err)
			}
		}
	}
	// Another idle period for the busy one, asking all the while.
	for range 15 {
		time.Sleep(100 * time.Millisecond)
		if _, err := busy.Version(); err != nil {
			t.Fatalf("the busy connection was closed: %v", err)
		}
	}
	st, err := busy.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d idle conns closed %v to %v after their last request (timeout %v); idle_kicks %s",
		idle, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), timeout, st["idle_kicks"])
	if st.Uint("idle_kicks") != idle {
		t.Errorf("idle_kicks %s, want %d", st["idle_kicks"], idle)
	}
	busy.Close()
	waitFDs(t, d, baseline)
}
