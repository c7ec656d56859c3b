package reactor_test

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// BenchmarkDispatchLatency measures, for each notify x wake-up combination,
// the time from the Acceptor's accept4 returning (its Accept trace event) to
// the Worker's OnOpen for that connection: push, notify, the Worker's
// wake-up, pop, epoll_ctl and the call. dispatchDialers goroutines dial and
// close at once; ns/op is the wall time per connection. p50-ns, p99-ns and
// p999-ns are the dispatch latency's percentiles, which make bench reports
// per combination:
//
//	go test -run '^$' -bench DispatchLatency -benchtime 5000x ./impl/reactor/
func BenchmarkDispatchLatency(b *testing.B) {
	for _, combo := range reactor.NotifyCombos {
		b.Run(combo.Name, func(b *testing.B) {
			benchDispatch(b, combo.Notify, combo.Wakeup)
		})
	}
}

// dispatchClock records the Accept time of every connection by its sequence
// number, and each connection's latency to OnOpen.
type dispatchClock struct {
	reactor.BuiltinHandler
	epoch    time.Time
	accepted []atomic.Int64 // by Conn.ID; nanoseconds since epoch, 0 until accepted
	mu       sync.Mutex
	lat      []time.Duration
	opened   atomic.Int64
	all      chan struct{} // closed when want connections were opened
	want     int64
}

func (d *dispatchClock) trace(ev model.Event) {
	if ev.Kind == model.Accept && ev.Conn >= 0 && ev.Conn < int64(len(d.accepted)) {
		d.accepted[ev.Conn].Store(int64(time.Since(d.epoch)))
	}
}

func (d *dispatchClock) OnOpen(c *reactor.Conn) {
	now := int64(time.Since(d.epoch))
	if id := c.ID(); id < uint64(len(d.accepted)) {
		if t := d.accepted[id].Load(); t > 0 {
			d.mu.Lock()
			d.lat = append(d.lat, time.Duration(now-t))
			d.mu.Unlock()
		}
	}
	if d.opened.Add(1) == d.want {
		close(d.all)
	}
}

// dispatchWorkers is the Workers of the benchmarked server, as handoffd
// runs on this 2-core machine.
const dispatchWorkers = 2

func benchDispatch(b *testing.B, n reactor.Notify, w reactor.Wakeup) {
	// Workers and the Acceptor are goroutines locked to their threads. One
	// that returns from epoll_wait when no P is free waits until sysmon
	// retakes a P from a thread blocked in a syscall, which can take
	// milliseconds: below Workers+Acceptors+1 Ps the figure is the Go
	// scheduler's, not the hand-off's. RaiseProcs gives every locked thread
	// a P and the rest one more; the dialer gets one of its own.
	if want := dispatchWorkers + 1 + 2; runtime.GOMAXPROCS(0) < want {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(want))
	}
	d := &dispatchClock{epoch: time.Now(), accepted: make([]atomic.Int64, b.N), all: make(chan struct{}), want: int64(b.N)}
	s := reactortest.Serve(b, reactor.Config{
		RaiseProcs: true,
		Workers:    dispatchWorkers,
		Notify:     n,
		Wakeup:     w,
		MaxConns:   4096,
		Trace:      d.trace,
	}, d)
	addr := s.Addrs()[0].String()
	var next atomic.Int64
	var failed atomic.Value
	b.ResetTimer()
	var wg sync.WaitGroup
	for range dispatchDialers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					failed.Store(err)
					return
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	// P4 no lost wake-up: every dispatched fd is eventually registered.
	reactortest.Await(b, d.all, fmt.Sprintf("all %d connections to reach OnOpen", b.N))
	b.StopTimer()
	d.mu.Lock()
	lat := slices.Clone(d.lat)
	d.mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no latency recorded")
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[min(int(q*float64(len(lat))), len(lat)-1)]) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
	b.ReportMetric(at(0.999), "p999-ns")
}

// dispatchDialers is how many goroutines dial at once. With one the
// latency is a hand-off to an idle Worker; more add the queueing of a
// connection storm.
const dispatchDialers = 1
