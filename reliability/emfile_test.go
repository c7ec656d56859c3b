package reliability

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFDExhaustion runs handoffd under RLIMIT_NOFILE 64, far below what its
// default -c 1024 needs, and connects 250 clients. memcached's answer to EMFILE is to take
// the listener out of its event loop and retry every 10 ms or when a
// connection closes; gnet's engine dies and nbio spins on accept. handoffd
// must not crash, must not spin while exhausted (under 10% of a core), must
// count the episode (listen_disabled_num), and must serve the waiting
// clients within a second once fds are free again. Every client is served
// exactly once in the end, and the fd count returns to its baseline (P5 no
// fd leak, spec/SPEC.md).
func TestFDExhaustion(t *testing.T) {
	const (
		noFile  = 64
		clients = 250
	)
	d := startPlainDaemon(t, Options{Args: []string{"-t", "2"}, NoFile: noFile})
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", d.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(limits), fmt.Sprintf("Max open files            %d                   %d", noFile, noFile)) {
		t.Fatalf("handoffd does not run under RLIMIT_NOFILE %d:\n%s", noFile, limits)
	}
	// memcached refuses to start when the limit is below what -c needs;
	// handoffd starts, says so, and relies on pausing the acceptor.
	if !strings.Contains(d.Log(), "open-file limit is below what -c needs") {
		t.Errorf("no warning about the fd limit at start:\n%s", d.Log())
	}
	baseline := baselineFDs(t, d)

	type served struct {
		i   int
		err error
		at  time.Time
	}
	cs := make([]*Client, clients)
	results := make(chan served, clients)
	for i := range cs {
		c, err := Dial(d.Addr, 10*time.Second)
		if err != nil {
			t.Fatalf("client %d: %v (the backlog must hold the clients the server cannot accept yet)", i, err)
		}
		c.Timeout = 60 * time.Second
		cs[i] = c
		defer c.Close()
		go func() {
			_, err := c.Version()
			results <- served{i, err, time.Now()}
		}()
	}

	// Collect the clients served before the fds ran out; the first of them
	// reads the stats.
	var first *Client
	servedSet := map[int]bool{}
	collect := func(timeout time.Duration) (served, bool) {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatalf("client %d: %v", r.i, r.err)
			}
			if servedSet[r.i] {
				t.Fatalf("client %d served twice", r.i)
			}
			servedSet[r.i] = true
			return r, true
		case <-time.After(timeout):
			return served{}, false
		}
	}
	r, ok := collect(30 * time.Second)
	if !ok {
		t.Fatal("no client served within 30 s")
	}
	first = cs[r.i]
	var st Stats
	waitFor(t, 20*time.Second, "listen_disabled_num > 0", func() bool {
		if st, err = first.Stats(); err != nil {
			t.Fatalf("stats: %v", err)
		}
		return st.Uint("listen_disabled_num") > 0
	})
	for {
		if _, ok := collect(200 * time.Millisecond); !ok {
			break
		}
	}
	heldAtLimit := len(servedSet)
	if heldAtLimit >= clients {
		t.Fatalf("all %d clients served under RLIMIT_NOFILE %d: the limit did not bite", clients, noFile)
	}
	t.Logf("served while exhausted: %d of %d clients; listen_disabled_num %s", heldAtLimit, clients, st["listen_disabled_num"])

	// No accept spin: CPU over a one-second window while clients wait.
	const window = time.Second
	before := proc(t, d).CPUTicks
	time.Sleep(window)
	spent := proc(t, d).CPUTicks - before
	t.Logf("CPU while exhausted: %d ticks in %v (%.1f%% of a core)", spent, window, float64(spent)*100/ClockTicksPerSecond/window.Seconds())
	if limit := int64(window.Seconds() * ClockTicksPerSecond / 10); spent >= limit {
		t.Errorf("handoffd used %d ticks in %v while out of fds (limit %d, 10%% of a core): it spins on accept", spent, window, limit)
	}

	// Free the fds: every close re-arms the listener, and the waiting
	// clients must be served within a second.
	freed := time.Now()
	for i := range servedSet {
		cs[i].Close()
	}
	r, ok = collect(time.Second)
	if !ok {
		t.Fatalf("no waiting client served within 1 s of freeing %d fds", heldAtLimit)
	}
	t.Logf("first waiting client served %v after fds were freed", r.at.Sub(freed).Round(time.Millisecond))
	cs[r.i].Close()
	deadline := time.Now().Add(30 * time.Second)
	for len(servedSet) < clients {
		r, ok := collect(time.Until(deadline))
		if !ok {
			t.Fatalf("only %d of %d clients served", len(servedSet), clients)
		}
		cs[r.i].Close()
	}
	waitFDs(t, d, baseline)
	st = stats(t, d)
	if st.Uint("listen_disabled_num") == 0 || st.Uint("total_connections") < clients {
		t.Errorf("after the episode: listen_disabled_num %s, total_connections %s", st["listen_disabled_num"], st["total_connections"])
	}
	t.Logf("after: listen_disabled_num %s, total_connections %s, fds back to the baseline %d",
		st["listen_disabled_num"], st["total_connections"], baseline)
}
