package main

import (
	"fmt"
	"time"

	"github.com/handoffd/handoff/reliability"
)

// sample is one observation of the server during a soak.
type sample struct {
	t       float64 // seconds since the load started
	rss     float64 // resident memory, MiB
	fds     int
	threads int // OS threads, from /proc
	// The server's stats; ok is false when none could be read (the
	// sampler's connection was refused at -c, say).
	ok                                  bool
	goroutines                          uint64 // handoffd's own stat; valid when ok
	curr, total, rejected, idle, listen uint64
	requests                            int64 // answered so far, client side
}

const sampleHeader = "    t(s)  rss(MiB)   fds threads  goroutines  curr_conns  total_conns  rejected  idle_kicks  listen_disabled  requests"

func (s sample) String() string {
	if !s.ok {
		return fmt.Sprintf("%8.1f %9.1f %5d %7d  (no stats)", s.t, s.rss, s.fds, s.threads)
	}
	return fmt.Sprintf("%8.1f %9.1f %5d %7d %11d %11d %12d %9d %11d %16d %9d",
		s.t, s.rss, s.fds, s.threads, s.goroutines, s.curr, s.total, s.rejected, s.idle, s.listen, s.requests)
}

// sampler reads /proc and stats over a connection of its own, kept busy so
// that the idle timeout does not take it.
type sampler struct {
	addr string
	pid  int
	c    *reliability.Client
}

// keepAlive is how often the sampler's connection asks something, well
// under any idle timeout worth soaking (at least 1 s).
const keepAlive = 500 * time.Millisecond

func (s *sampler) stats() (reliability.Stats, error) {
	if s.c == nil {
		c, err := reliability.Dial(s.addr, 10*time.Second)
		if err != nil {
			return nil, err
		}
		s.c = c
	}
	st, err := s.c.Stats()
	if err != nil {
		s.c.Close()
		s.c = nil
	}
	return st, err
}

// ping keeps the connection from going idle; a failure only drops it.
func (s *sampler) ping() {
	if s.c == nil {
		return
	}
	if _, err := s.c.Version(); err != nil {
		s.c.Close()
		s.c = nil
	}
}

func (s *sampler) take(t float64, requests int64) (sample, error) {
	p, err := reliability.ReadProc(s.pid)
	if err != nil {
		return sample{}, err
	}
	sm := sample{t: t, rss: float64(p.RSS) / (1 << 20), fds: p.FDs, threads: p.Threads, requests: requests}
	if st, err := s.stats(); err == nil {
		sm.ok = true
		sm.goroutines = st.Uint("goroutines")
		sm.curr, sm.total = st.Uint("curr_connections"), st.Uint("total_connections")
		sm.rejected, sm.idle, sm.listen = st.Uint("rejected_connections"), st.Uint("idle_kicks"), st.Uint("listen_disabled_num")
	}
	return sm, nil
}

func (s *sampler) close() {
	if s.c != nil {
		s.c.Close()
		s.c = nil
	}
}
