package reliability

import (
	"io"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// stoppedRE matches handoffd's last log record (-v), written after Serve
// returned: by then every connection was closed (P7).
var stoppedRE = regexp.MustCompile(`msg=stopped .*total_connections=(\d+) .*curr_connections=(-?\d+)`)

// TestSIGTERMDuringStorm sends SIGTERM to handoffd while 16 goroutines
// connect, ask and close and 32 more connections sit idle. P7 clean shutdown
// (spec/SPEC.md): handoffd exits 0 within 5 s; every idle connection sees
// the server close it with an EOF, once, with nothing unread; no storm
// request fails before the signal; and after the stop no registered
// connection is left open: curr_connections in the stop record is 0, so every
// one of total_connections was closed, exactly once (a double close would
// take it below 0, a missed one leave it above).
func TestSIGTERMDuringStorm(t *testing.T) {
	const goroutines, idle = 16, 32
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-v"}})
	held := make([]*Client, idle)
	for i := range held {
		held[i] = dialClient(t, d)
		if _, err := held[i].Version(); err != nil {
			t.Fatalf("idle conn %d: %v", i, err)
		}
	}
	stop := make(chan struct{})
	s := startStorm(d.Addr, goroutines, stop)
	defer func() {
		close(stop)
		s.wait()
	}()
	waitFor(t, 10*time.Second, "the storm to get going", func() bool { return s.done.Load() >= 500 })

	// The idle clients wait for the server's close from now on.
	type closed struct {
		i    int
		rest []byte
		err  error
	}
	closes := make(chan closed, idle)
	var readers sync.WaitGroup
	for i, c := range held {
		_ = c.Conn().SetReadDeadline(time.Now().Add(30 * time.Second))
		readers.Go(func() {
			rest, err := io.ReadAll(c.Reader())
			closes <- closed{i, rest, err}
		})
	}
	signalled := time.Now()
	took, err := d.Stop(5 * time.Second)
	if err != nil {
		t.Fatalf("handoffd after SIGTERM during a storm: %v (after %v), want exit 0 within 5 s\n%s", err, took, d.Log())
	}
	readers.Wait()
	close(closes)
	eofs := 0
	for c := range closes {
		if c.err != nil || len(c.rest) > 0 {
			t.Errorf("idle conn %d: read %q, %v; want a clean EOF", c.i, c.rest, c.err)
			continue
		}
		eofs++
	}
	var before int
	s.mu.Lock()
	for _, e := range s.errs {
		if e.at.Before(signalled) {
			before++
			t.Errorf("storm request failed before SIGTERM: %v", e.err)
		}
	}
	afterSignal := len(s.errs) - before
	s.mu.Unlock()

	m := stoppedRE.FindStringSubmatch(d.Log())
	if m == nil {
		t.Fatalf("no stop record with total_connections and curr_connections in handoffd's log:\n%s", d.Log())
	}
	total, _ := strconv.ParseInt(m[1], 10, 64)
	curr, _ := strconv.ParseInt(m[2], 10, 64)
	t.Logf("exit 0 after %v; idle conns closed with EOF: %d of %d; storm: %d conns, %d answered, %d goroutines stopped by the shutdown; stop record: total_connections %d, curr_connections %d",
		took.Round(time.Millisecond), eofs, idle, s.dials.Load(), s.done.Load(), afterSignal, total, curr)
	if curr != 0 {
		t.Errorf("P7: curr_connections %d after the stop: registered connections were not closed exactly once", curr)
	}
	if lo := int64(idle) + s.done.Load(); total < lo {
		t.Errorf("total_connections %d, but at least %d connections were served", total, lo)
	}
}
