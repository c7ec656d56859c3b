package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// load is one run's parameters. Every run is bounded twice: by count (Total)
// and by time (Duration), whichever comes first.
type load struct {
	Addr string // host:port, loopback
	PID  int    // the server's pid, 0 to skip the server-side figures
	// Conns is the number of concurrent dialers (conn), persistent
	// connections (req) or idle connections held (idle).
	Conns    int
	Total    int64         // most connections (conn) or requests (req)
	Duration time.Duration // longest run
	// GetRatio, ValueSize, Keys and Pipeline shape req's traffic.
	GetRatio  float64
	ValueSize int
	Keys      int
	Pipeline  int
	// Progress, when not nil, receives a line per second.
	Progress io.Writer `json:"-"`
}

// result is one run's figures. Server* are zero without a pid.
type result struct {
	Mode    string
	Ops     int64 // connections (conn), requests (req) or connections held (idle)
	Errors  int64
	Elapsed time.Duration
	// ServerCPU is the server's user+system time during the run; CPUPerOp
	// divides it by Ops, in nanoseconds.
	ServerCPU time.Duration
	CPUPerOp  float64
	OpsPerSec float64
	Latency   percentiles
	// RSS before and after the idle connections were opened, and the
	// difference per connection, in bytes.
	RSSBefore, RSSAfter int64
	RSSPerConn          float64
	// FirstErr is the first error seen, for the report.
	FirstErr string
	// Other is the CPU the rest of the machine used during the run, as a
	// share of all its cores (otherWork).
	Other float64
}

func (r result) String() string {
	s := fmt.Sprintf("%s: %d ops in %v (%.0f/s), %d errors", r.Mode, r.Ops, r.Elapsed.Round(time.Millisecond), r.OpsPerSec, r.Errors)
	if r.Mode != "idle" {
		s += fmt.Sprintf("; latency p50 %v p99 %v p99.9 %v", r.Latency.P50, r.Latency.P99, r.Latency.P999)
	}
	if r.ServerCPU > 0 || r.Mode != "idle" {
		s += fmt.Sprintf("; server CPU %v, %.2f µs/op", r.ServerCPU, r.CPUPerOp/1e3)
	}
	if r.Mode == "idle" {
		s += fmt.Sprintf("; RSS %d -> %d B, %.0f B/conn", r.RSSBefore, r.RSSAfter, r.RSSPerConn)
	}
	if r.FirstErr != "" {
		s += "; first error: " + r.FirstErr
	}
	return s
}

// errTally counts errors and keeps the first.
type errTally struct {
	n     atomic.Int64
	once  sync.Once
	first string
}

func (e *errTally) add(err error) {
	e.n.Add(1)
	e.once.Do(func() { e.first = err.Error() })
}

// progress prints done's value once a second until stop is closed.
func progress(w io.Writer, mode string, done *atomic.Int64, stop <-chan struct{}) {
	if w == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			fmt.Fprintf(w, "  %s: %d ops after %v\n", mode, done.Load(), now.Sub(start).Round(time.Second))
		}
	}
}

// finish fills the figures common to every mode.
func finish(r *result, m *serverMeter, elapsed time.Duration, errs *errTally) error {
	r.Elapsed = elapsed
	r.Errors = errs.n.Load()
	r.FirstErr = errs.first
	if elapsed > 0 {
		r.OpsPerSec = float64(r.Ops) / elapsed.Seconds()
	}
	cpu, err := m.elapsed()
	if err != nil {
		return err
	}
	r.ServerCPU = cpu
	if r.Ops > 0 {
		r.CPUPerOp = float64(cpu) / float64(r.Ops)
	}
	return nil
}

// runConn runs Conns dialers, each connecting, sending one get, waiting for
// the reply and closing, until Total connections or Duration.
func runConn(l load) (result, error) {
	r := result{Mode: "conn"}
	var issued, done atomic.Int64
	var errs errTally
	lat := make([]*samples, l.Conns)
	stop := make(chan struct{})
	go progress(l.Progress, "conn", &done, stop)
	defer close(stop)
	m, err := startMeter(l.PID)
	if err != nil {
		return r, err
	}
	start := time.Now()
	deadline := start.Add(l.Duration)
	var wg sync.WaitGroup
	for i := range l.Conns {
		lat[i] = new(samples)
		wg.Go(func() {
			buf := make([]byte, 256)
			for issued.Add(1) <= l.Total && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := shortRequest(l.Addr, buf); err != nil {
					errs.add(err)
					continue
				}
				lat[i].add(time.Since(t0))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	r.Ops = done.Load()
	r.Latency = summarize(lat)
	return r, finish(&r, m, time.Since(start), &errs)
}

// runReq preloads Keys keys, connects Conns clients, and has each send
// pipelines of Pipeline requests (GetRatio of them gets, the rest sets of
// ValueSize bytes) until Total requests or Duration. The server's CPU time is
// measured from the moment every client is connected.
func runReq(l load) (result, error) {
	r := result{Mode: "req"}
	if err := preload(l); err != nil {
		return r, fmt.Errorf("preload: %w", err)
	}
	clients := make([]*mcConn, l.Conns)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for i := range clients {
		c, err := dialMC(l.Addr, 16<<10)
		if err != nil {
			return r, fmt.Errorf("connect client %d: %w", i, err)
		}
		clients[i] = c
	}
	var issued, done atomic.Int64
	var errs errTally
	lat := make([]*samples, l.Conns)
	stop := make(chan struct{})
	go progress(l.Progress, "req", &done, stop)
	defer close(stop)
	value := make([]byte, l.ValueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	m, err := startMeter(l.PID)
	if err != nil {
		return r, err
	}
	start := time.Now()
	deadline := start.Add(l.Duration)
	var wg sync.WaitGroup
	for i, c := range clients {
		lat[i] = new(samples)
		wg.Go(func() {
			rng := newRand(uint64(i))
			key := make([]byte, 0, 32)
			for issued.Add(int64(l.Pipeline)) <= l.Total && time.Now().Before(deadline) {
				for range l.Pipeline {
					key = appendKey(key[:0], rng.next()%uint64(l.Keys))
					if float64(rng.next()%1_000_000) < l.GetRatio*1_000_000 {
						c.get(key)
					} else {
						c.set(key, value)
					}
				}
				t0 := time.Now()
				if _, err := c.roundTrip(); err != nil {
					errs.add(err)
					return
				}
				lat[i].add(time.Since(t0))
				done.Add(int64(l.Pipeline))
			}
		})
	}
	wg.Wait()
	r.Ops = done.Load()
	r.Latency = summarize(lat)
	return r, finish(&r, m, time.Since(start), &errs)
}

// preload sets every key once, so that gets hit.
func preload(l load) error {
	c, err := dialMC(l.Addr, 16<<10)
	if err != nil {
		return err
	}
	defer c.close()
	value := make([]byte, l.ValueSize)
	key := make([]byte, 0, 32)
	for k := 0; k < l.Keys; {
		for j := 0; j < 64 && k < l.Keys; j, k = j+1, k+1 {
			key = appendKey(key[:0], uint64(k))
			c.set(key, value)
		}
		if _, err := c.roundTrip(); err != nil {
			return err
		}
	}
	return nil
}

func appendKey(b []byte, k uint64) []byte {
	b = append(b, "bench:"...)
	return fmt.Appendf(b, "%d", k)
}

// splitmix is a small splitmix64 generator, one per client: no shared state, so
// clients do not contend on it.
type splitmix struct{ s uint64 }

func newRand(seed uint64) *splitmix { return &splitmix{s: seed*0x9e3779b97f4a7c15 + 1} }

func (r *splitmix) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// runIdle measures the server's resident memory, opens Conns connections
// that each make one request (any reply line will do, so an echo server can
// stand in) and then stay idle, waits for the server's RSS to
// settle, and reports the growth per connection. Run it against a fresh
// server process: memory a busy process freed is not handed back at once and
// would hide the growth.
func runIdle(l load) (result, error) {
	r := result{Mode: "idle"}
	var errs errTally
	var err error
	if l.PID != 0 {
		if r.RSSBefore, err = settledRSS(l.PID); err != nil {
			return r, err
		}
	}
	m, err := startMeter(l.PID)
	if err != nil {
		return r, err
	}
	start := time.Now()
	conns := make([]net.Conn, 0, l.Conns)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	deadline := start.Add(l.Duration)
	buf := make([]byte, 256)
	for i := 0; i < l.Conns && time.Now().Before(deadline); i++ {
		c, err := net.DialTimeout("tcp", l.Addr, ioTimeout)
		if err != nil {
			errs.add(err)
			break
		}
		conns = append(conns, c)
		if err := oneLine(c, []byte("get bench:idle\r\n"), buf); err != nil {
			errs.add(err)
			break
		}
		if l.Progress != nil && (i+1)%1000 == 0 {
			fmt.Fprintf(l.Progress, "  idle: %d connections open\n", i+1)
		}
	}
	r.Ops = int64(len(conns))
	if l.PID != 0 {
		if r.RSSAfter, err = settledRSS(l.PID); err != nil {
			return r, err
		}
		if r.Ops > 0 {
			r.RSSPerConn = float64(r.RSSAfter-r.RSSBefore) / float64(r.Ops)
		}
	}
	return r, finish(&r, m, time.Since(start), &errs)
}

// settledRSS samples the RSS every 50 ms until two samples agree, for at most
// a second, and returns the last.
func settledRSS(pid int) (int64, error) {
	prev, err := rssBytes(pid)
	if err != nil {
		return 0, err
	}
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		cur, err := rssBytes(pid)
		if err != nil {
			return 0, err
		}
		if cur == prev {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}
