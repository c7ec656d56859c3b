package reactor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/handoffd/handoff/internal/kernel"
)

// Benchmarks of the hand-off's hot paths, each a figure benchstat can compare
// across commits:
//
//	go test -run '^$' -bench 'QueuePushPop|Notify' -count 6 ./impl/reactor/ | tee new.txt
//	benchstat old.txt new.txt

// BenchmarkQueuePushPop is one push and one pop under the queue's mutex: the
// cost a connection adds to the Acceptor and to its Worker, uncontended
// (same goroutine) and contended (an Acceptor goroutine pushing while a
// Worker goroutine pops).
func BenchmarkQueuePushPop(b *testing.B) {
	b.Run("uncontended", func(b *testing.B) {
		var q queue
		for i := 0; b.Loop(); i++ {
			q.mu.Lock()
			q.pushLocked(item{fd: i, seq: uint64(i)})
			q.mu.Unlock()
			q.mu.Lock()
			it, ok := q.popLocked()
			q.mu.Unlock()
			if !ok || it.fd != i {
				b.Fatalf("pop = %v, %v; want fd %d", it, ok, i)
			}
		}
	})
	b.Run("contended", func(b *testing.B) {
		var q queue
		// inFlight bounds the queue, as MaxConns does in the server.
		var inFlight atomic.Int64
		const bound = 1024
		var wg sync.WaitGroup
		b.ResetTimer()
		wg.Go(func() {
			for i := 0; i < b.N; {
				if inFlight.Load() >= bound {
					runtime.Gosched()
					continue
				}
				q.mu.Lock()
				q.pushLocked(item{fd: i, seq: uint64(i)})
				q.mu.Unlock()
				inFlight.Add(1)
				i++
			}
		})
		for want := 0; want < b.N; {
			q.mu.Lock()
			it, ok := q.popLocked()
			q.mu.Unlock()
			if !ok {
				runtime.Gosched()
				continue
			}
			if it.fd != want {
				// P3 per-worker FIFO (spec/SPEC.md): pops come in push order.
				b.Fatalf("pop fd %d, want %d", it.fd, want)
			}
			inFlight.Add(-1)
			want++
		}
		wg.Wait()
	})
}

// notifyPair is an Acceptor's and a Worker's ends of one hand-off: a queue,
// a notify channel with its wake-up policy, and the Worker's poll set over
// the channel, as worker.dispatch and worker.onNotify use them.
type notifyPair struct {
	k      kernel.Kernel
	q      queue
	note   *notifier
	epfd   int
	events []kernel.Event
	tok    [notifyBatch]byte
	tokens int64 // tokens read by the Worker side
	wakes  int64 // wake-ups of the Worker side
}

func newNotifyPair(b *testing.B, kind Notify, w Wakeup) *notifyPair {
	b.Helper()
	k, err := kernel.New(kernel.Options{})
	if err != nil {
		b.Skip(err)
	}
	note, err := newNotifier(k, kind == NotifyEventfd, w == WakeupCoalesced)
	if err != nil {
		b.Fatal(err)
	}
	p := &notifyPair{k: k, note: note, epfd: -1, events: make([]kernel.Event, 4)}
	b.Cleanup(func() {
		p.note.close()
		if p.epfd >= 0 {
			k.Close(p.epfd)
		}
	})
	if p.epfd, err = k.PollCreate(); err != nil {
		b.Fatal(err)
	}
	if err := k.PollCtl(p.epfd, kernel.Add, note.rfd, kernel.In, 0); err != nil {
		b.Fatal(err)
	}
	return p
}

func never() bool { return false }

// dispatch is the Acceptor side: push, then notify if the policy asks.
func (p *notifyPair) dispatch(b *testing.B, it item) {
	p.q.mu.Lock()
	p.q.pushLocked(it)
	p.q.mu.Unlock()
	if !p.note.arm() {
		return
	}
	if err := p.note.signal(never); err != nil {
		b.Fatal(err)
	}
}

// receive is the Worker side: wait for the channel, read the tokens, pop
// one item per token (per-conn) or clear the flag and pop until empty
// (coalesced). It returns the items popped, in order, appended to got.
func (p *notifyPair) receive(b *testing.B, got []item) []item {
	for {
		n, err := p.k.PollWait(p.epfd, p.events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		if n > 0 {
			break
		}
	}
	k, err := p.note.read(&p.tok)
	if err != nil {
		b.Fatal(err)
	}
	if k == 0 {
		return got
	}
	p.wakes++
	p.tokens += int64(k)
	if p.note.coalesced {
		p.note.disarm()
		k = 1 << 30
	}
	for range k {
		p.q.mu.Lock()
		it, ok := p.q.popLocked()
		p.q.mu.Unlock()
		if !ok {
			if !p.note.coalesced {
				b.Fatal("P4: a token without a queued item")
			}
			break
		}
		got = append(got, it)
	}
	return got
}

var notifyCombos = []struct {
	name   string
	notify Notify
	wakeup Wakeup
}{
	{"pipe+per-conn", NotifyPipe, WakeupPerConn},
	{"pipe+coalesced", NotifyPipe, WakeupCoalesced},
	{"eventfd+per-conn", NotifyEventfd, WakeupPerConn},
	{"eventfd+coalesced", NotifyEventfd, WakeupCoalesced},
}

// BenchmarkNotifyRoundTrip is one item handed to a Worker thread and one
// handed back, each through push, notify, epoll_wait, read and pop: the
// latency of a hand-off on an idle Worker, twice.
func BenchmarkNotifyRoundTrip(b *testing.B) {
	for _, combo := range notifyCombos {
		b.Run(combo.name, func(b *testing.B) {
			there := newNotifyPair(b, combo.notify, combo.wakeup)
			back := newNotifyPair(b, combo.notify, combo.wakeup)
			done := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				defer close(done)
				var got []item
				for seen := 0; seen < b.N; {
					got = there.receive(b, got[:0])
					for _, it := range got {
						back.dispatch(b, it)
					}
					seen += len(got)
				}
			}()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var got []item
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				there.dispatch(b, item{fd: i, seq: uint64(i)})
				for got = got[:0]; len(got) == 0; {
					got = back.receive(b, got)
				}
				if got[0].fd != i {
					b.Fatalf("round trip returned fd %d, want %d", got[0].fd, i)
				}
			}
			<-done
		})
	}
}

// BenchmarkNotifyBurst hands items to a Worker thread as fast as an
// Acceptor can push them, at most 256 in flight: the cost per connection of
// a burst of accepts. tokens/op and wakes/op show what coalescing saves:
// per-conn writes and reads a token per item, coalesced one per wake-up.
func BenchmarkNotifyBurst(b *testing.B) {
	for _, combo := range notifyCombos {
		b.Run(combo.name, func(b *testing.B) {
			p := newNotifyPair(b, combo.notify, combo.wakeup)
			const bound = 256
			var inFlight atomic.Int64
			done := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				defer close(done)
				var got []item
				for want := 0; want < b.N; {
					got = p.receive(b, got[:0])
					for _, it := range got {
						if it.fd != want {
							// P3 per-worker FIFO (spec/SPEC.md).
							b.Errorf("popped fd %d, want %d", it.fd, want)
							return
						}
						want++
					}
					inFlight.Add(-int64(len(got)))
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for inFlight.Load() >= bound {
					runtime.Gosched()
				}
				inFlight.Add(1)
				p.dispatch(b, item{fd: i, seq: uint64(i)})
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(p.tokens)/float64(b.N), "tokens/op")
			b.ReportMetric(float64(p.wakes)/float64(b.N), "wakes/op")
		})
	}
}
