package reliability

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// storm has goroutines connect, set and get a key of their own, check the
// value and close, until stop is closed. It counts the connections made and
// the requests answered, and keeps the first failure of each goroutine.
type storm struct {
	// dials counts connections made; done those whose set and get were
	// both answered.
	dials, done atomic.Int64
	mu          sync.Mutex
	errs        []stormErr // guarded by mu
	wg          sync.WaitGroup
}

// stormErr is a goroutine's failure and when it happened.
type stormErr struct {
	at  time.Time
	err error
}

func startStorm(addr string, goroutines int, stop <-chan struct{}) *storm {
	s := &storm{}
	for g := range goroutines {
		s.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.once(addr, g, i); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, stormErr{time.Now(), err})
					s.mu.Unlock()
					return
				}
			}
		})
	}
	return s
}

func (s *storm) once(addr string, g, i int) error {
	c, err := Dial(addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("goroutine %d conn %d: dial: %w", g, i, err)
	}
	defer c.Close()
	s.dials.Add(1)
	key := fmt.Sprintf("storm-%d", g)
	v := fmt.Appendf(nil, "%d-%d", g, i)
	if err := c.Set(key, v); err != nil {
		return fmt.Errorf("goroutine %d conn %d: %w", g, i, err)
	}
	got, ok, err := c.Get(key)
	if err != nil || !ok || !bytes.Equal(got, v) {
		return fmt.Errorf("goroutine %d conn %d: get %q, %v, %v; want %q", g, i, got, ok, err, v)
	}
	s.done.Add(1)
	return nil
}

func (s *storm) wait() []stormErr {
	s.wg.Wait()
	return s.errs
}

// TestStorm has 16 goroutines connect, ask and close for 3 s: no request may
// fail, and once they stop, handoffd's fd count returns to its baseline and
// curr_connections to the one asking (P5 no fd leak, spec/SPEC.md). The
// other notify x wake-up designs, and two acceptors with the
// least-connections balancer, get a 1 s storm each: a lost wake-up (P4)
// would leave a client without its reply.
func TestStorm(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		length time.Duration
	}{
		{"pipe per-conn", nil, 3 * time.Second},
		{"eventfd per-conn", []string{"--notify", "eventfd"}, time.Second},
		{"pipe coalesced", []string{"--wakeup", "coalesced"}, time.Second},
		{"eventfd coalesced", []string{"--notify", "eventfd", "--wakeup", "coalesced"}, time.Second},
		{"2 acceptors least", []string{"--acceptors", "2", "--balance", "least"}, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) { stormOnce(t, c.args, c.length) })
	}
}

func stormOnce(t *testing.T, args []string, length time.Duration) {
	const goroutines = 16
	d := startDaemon(t, Options{Args: append([]string{"-t", "2"}, args...)})
	baseline := baselineFDs(t, d)
	stop := make(chan struct{})
	s := startStorm(d.Addr, goroutines, stop)
	peak := 0
	deadline := time.Now().Add(length)
	for time.Now().Before(deadline) {
		peak = max(peak, proc(t, d).FDs)
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	for _, e := range s.wait() {
		t.Error(e.err)
	}
	waitFDs(t, d, baseline)
	st := stats(t, d)
	t.Logf("%d connections, %d requests in %v; fds: baseline %d, peak %d, back to baseline; total_connections %s",
		s.dials.Load(), 2*s.done.Load(), length, baseline, peak, st["total_connections"])
	if st.Uint("curr_connections") != 1 {
		t.Errorf("curr_connections %s after the storm, want 1 (the stats connection)", st["curr_connections"])
	}
	if st.Uint("total_connections") < uint64(s.dials.Load()) {
		t.Errorf("total_connections %s < %d connections made", st["total_connections"], s.dials.Load())
	}
}
