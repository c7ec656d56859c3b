package reactor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/handoffd/handoff/internal/kernel"
	"github.com/handoffd/handoff/internal/uring"
)

// Server is a running or runnable reactor: its listeners are bound by New,
// its Acceptors and Workers run from Serve until Shutdown or Close.
type Server struct {
	shared
	// cfg is the Config in effect, defaults applied; immutable.
	cfg Config
	h   Handler

	// listeners, acceptors and workers are created by New and closed by
	// closeAll; immutable in between.
	listeners []*listener
	acceptors []*acceptor
	workers   []*worker
	bal       balancer

	mu sync.Mutex
	// state is guarded by mu: stateIdle -> stateServing -> stateStopped, or
	// stateIdle -> stateStopped by a Shutdown or Close without Serve.
	state int
	// discard is set by Close before stopCh closes: the Workers close their
	// connections without a last attempt to flush their output.
	discard  bool
	stopCh   chan struct{} // closed by Shutdown or Close to make Serve stop
	stopOnce sync.Once
	done     chan struct{} // closed when Serve has joined everything
}

const (
	stateIdle = iota
	stateServing
	stateStopped
)

// Booter is a Handler that wants its Server before the first connection.
// OnBoot runs once, in Serve, before any Acceptor or Worker starts, so it
// can read s.Config() and keep s (for Stats, say); an error from it stops
// Serve, which closes everything and returns that error. A handler that
// wraps another passes OnBoot on, as it passes the callbacks it does not
// change.
type Booter interface {
	OnBoot(s *Server) error
}

// Ticker is a Handler that wants to be called now and then. OnTick runs on a
// goroutine of its own, first right after OnBoot, then again each time the
// delay it returned has passed; a delay of 0 or less ends the ticks, as does
// the server stopping. It never runs on a Worker, so it reaches connections
// only through Conn.AsyncWrite and Conn.Wake.
type Ticker interface {
	OnTick() (delay time.Duration)
}

// Shutdowner is a Handler that wants to know the server has stopped:
// OnShutdown runs once, in Serve, after every connection's OnClose and
// before Serve returns.
type Shutdowner interface {
	OnShutdown(s *Server)
}

// New validates cfg, applies its defaults, binds every listener and creates
// the Acceptors' and Workers' poll sets and notify channels, so that every
// configuration and resource error surfaces here and port 0 is resolved
// (Addrs). Nothing runs until Serve. On a system with no reactor kernel it
// returns an error wrapping errors.ErrUnsupported.
func New(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("reactor: nil Handler")
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	k, err := kernel.New(kernel.Options{RawWait: cfg.RaiseProcs || runtime.GOMAXPROCS(0) > cfg.Workers+cfg.Acceptors})
	if err != nil {
		return nil, fmt.Errorf("reactor: %w", err)
	}
	return newServer(cfg, h, k)
}

// newServer builds the server for cfg, its defaults applied, on kernel k:
// New's work once the kernel is chosen. A simulated kernel's tests call it
// with theirs.
func newServer(cfg Config, h Handler, k kernel.Kernel) (*Server, error) {
	var err error
	s := &Server{
		cfg:    cfg,
		h:      h,
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.k, s.log, s.tr = k, cfg.Logger, cfg.Trace
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()
	s.listeners, err = bindAll(k, bindOpts{
		listen: cfg.Listen, listeners: cfg.Listeners, acceptors: cfg.Acceptors, backlog: cfg.Backlog,
		sock: kernel.SockOpts{
			Nagle:      cfg.Socket.Nagle,
			KeepAlive:  cfg.Socket.KeepAlive,
			Abort:      cfg.Socket.Linger < 0,
			RecvBuffer: cfg.Socket.RecvBuffer,
			SendBuffer: cfg.Socket.SendBuffer,
		},
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.IO, err = chooseIO(cfg.IO, cfg.Logger); err != nil {
		return nil, err
	}
	ring := s.cfg.IO == IOUring
	s.rawWait = cfg.RaiseProcs || runtime.GOMAXPROCS(0) > cfg.Workers+cfg.Acceptors
	s.adm.k, s.adm.max = k, int64(cfg.MaxConns)
	s.adm.paused, s.adm.kicks = make([]atomic.Bool, cfg.Acceptors), make([]int, cfg.Acceptors)
	wo := workerOpts{
		maxOutput: cfg.MaxOutput, maxInput: cfg.MaxInput, readBuffer: cfg.ReadBuffer, idle: cfg.IdleTimeout,
		eventfd: cfg.Notify == NotifyEventfd, coalesced: cfg.Wakeup == WakeupCoalesced, ring: ring,
	}
	for i := range cfg.Workers {
		w, err := newWorker(&s.shared, s, h, i, wo)
		if err != nil {
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	s.bal = balancer{leastConns: cfg.Balance == BalanceLeastConns, workers: s.workers}
	for i := range cfg.Acceptors {
		var mine []*listener
		for _, ln := range s.listeners {
			if ln.acceptor == i {
				mine = append(mine, ln)
			}
		}
		a, err := newAcceptor(&s.shared, i, mine, &s.bal, cfg.RejectLine, ring)
		if err != nil {
			return nil, err
		}
		s.acceptors = append(s.acceptors, a)
		s.adm.kicks[i] = a.kickfd
	}
	ok = true
	return s, nil
}

// chooseIO decides the backend Config.IO asks for: io_uring where
// uring.Probe finds every feature it uses, else epoll for IOAuto (logged)
// and an error for IOUring.
func chooseIO(want IO, log *slog.Logger) (IO, error) {
	if want == IOEpoll {
		return IOEpoll, nil
	}
	err := uring.Probe()
	switch {
	case err == nil:
		return IOUring, nil
	case want == IOUring:
		return "", fmt.Errorf("reactor: Config.IO %q: %w", IOUring, err)
	}
	log.Warn("reactor: io_uring unavailable, using epoll", "err", err)
	return IOEpoll, nil
}

// Config returns the configuration in effect, every default applied.
func (s *Server) Config() Config {
	c := s.cfg
	c.Listen = slices.Clone(c.Listen)
	c.Listeners = slices.Clone(c.Listeners)
	return c
}

// Addrs returns the bound addresses, each once, Config.Listen's first and
// then Config.Listeners': a *net.TCPAddr (port 0 resolved) or a
// *net.UnixAddr.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	seen := make(map[string]bool)
	for _, ln := range s.listeners {
		if key := ln.addr.Network() + " " + ln.addr.String(); !seen[key] {
			seen[key] = true
			out = append(out, ln.addr)
		}
	}
	return out
}

// Serve runs the server: OnBoot if the Handler is a Booter, then the Workers
// and Acceptors (and OnTick for a Ticker), until ctx is done or Shutdown or
// Close is called; then it stops them (P7 clean shutdown), runs OnShutdown
// for a Shutdowner, and returns ErrServerClosed, as net/http's Serve does
// after a clean stop. Any other error means it could not serve: the error
// OnBoot returned, or ErrServerClosed at once if the server was already
// shut down or served.
//
// With Config.RaiseProcs, Serve raises GOMAXPROCS to Workers+Acceptors+1
// first.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateIdle {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.state = stateServing
	s.mu.Unlock()

	if s.cfg.RaiseProcs {
		ensureProcs(len(s.workers) + len(s.acceptors) + 1)
	}
	if b, ok := s.h.(Booter); ok {
		if err := s.boot(b); err != nil {
			s.finish()
			return err
		}
	}
	var workersWG, acceptorsWG, tickWG sync.WaitGroup
	for _, w := range s.workers {
		workersWG.Go(w.run)
	}
	for _, a := range s.acceptors {
		acceptorsWG.Go(a.run)
	}
	stopTicks := make(chan struct{})
	if t, ok := s.h.(Ticker); ok {
		tickWG.Go(func() { s.tick(t, stopTicks) })
	}
	select {
	case <-ctx.Done():
	case <-s.stopCh:
	}
	// Acceptors first, so that nothing is pushed onto a queue once the
	// Workers start closing what they hold.
	s.stopAcceptors()
	acceptorsWG.Wait()
	s.stopWorkers()
	workersWG.Wait()
	close(stopTicks)
	tickWG.Wait()
	if sd, ok := s.h.(Shutdowner); ok {
		s.callHook("OnShutdown", func() { sd.OnShutdown(s) })
	}
	s.finish()
	return ErrServerClosed
}

// stopAcceptors closes the admission gate and kicks every Acceptor, which
// returns from its loop at its next pass.
func (s *Server) stopAcceptors() {
	s.tr.stop()
	s.adm.stop()
	for _, a := range s.acceptors {
		kernel.Kick(s.k, a.kickfd)
	}
}

// stopWorkers tells every Worker to close what it holds and return, once no
// Acceptor runs.
func (s *Server) stopWorkers() {
	s.mu.Lock()
	discard := s.discard
	s.mu.Unlock()
	for _, w := range s.workers {
		w.stop(discard)
	}
}

// boot runs OnBoot; a panic in it is an error like any other.
func (s *Server) boot(b Booter) (err error) {
	s.callHook("OnBoot", func() { err = b.OnBoot(s) })
	if err == nil {
		return nil
	}
	return fmt.Errorf("reactor: OnBoot: %w", err)
}

// tick calls OnTick until it asks for no more or stop is closed.
func (s *Server) tick(t Ticker, stop <-chan struct{}) {
	for {
		var delay time.Duration
		if !s.callHook("OnTick", func() { delay = t.OnTick() }) || delay <= 0 {
			return
		}
		timer := time.NewTimer(delay)
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// callHook runs a server-wide handler hook, recovering a panic: it is
// counted and logged with its stack, and callHook reports false.
func (s *Server) callHook(name string, f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.srvStats.handlerPanics.Add(1)
			s.log.Error("reactor: handler panic", "callback", name, "panic", r, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	f()
	return true
}

// finish closes every fd the server holds and marks it stopped.
func (s *Server) finish() {
	s.closeAll()
	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
	close(s.done)
}

// Shutdown stops the server gracefully: it stops accepting, closes every fd
// still queued, runs the tasks already handed over, makes one attempt to
// flush each connection's output, runs OnClose for every connection, closes
// every fd and joins every goroutine (P5 no fd leak, P7 clean shutdown);
// Serve then returns ErrServerClosed. If ctx ends first, Shutdown returns
// ctx.Err() and the stop goes on in the background. Called before Serve, it
// closes the listeners and the Workers' channels, and Serve is refused.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.stop(ctx, false)
}

// Close stops the server at once: as Shutdown, but the Workers close their
// connections without a last attempt to flush their output. It returns once
// the server has stopped.
func (s *Server) Close() error {
	return s.stop(context.Background(), true)
}

func (s *Server) stop(ctx context.Context, discard bool) error {
	s.mu.Lock()
	switch s.state {
	case stateIdle:
		s.state = stateStopped
		s.mu.Unlock()
		s.closeAll()
		close(s.done)
		return nil
	case stateStopped:
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.discard = s.discard || discard
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stopCh) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAll closes the listeners and every Acceptor's and Worker's own fds.
// It runs once no goroutine of the server is left (or none ever ran).
func (s *Server) closeAll() {
	for _, ln := range s.listeners {
		ln.close(s.k)
	}
	for _, a := range s.acceptors {
		a.close()
	}
	for _, w := range s.workers {
		w.close()
	}
	s.tr.done()
}

// Stats returns the counters now, without stopping any Worker.
func (s *Server) Stats() Stats {
	st := Stats{
		IO:             string(s.cfg.IO),
		Accepted:       s.srvStats.accepted.Load(),
		Rejected:       s.srvStats.rejected.Load(),
		ListenDisabled: s.srvStats.listenDisabled.Load(),
		IdleClosed:     s.srvStats.idleClosed.Load(),
		HandlerPanics:  s.srvStats.handlerPanics.Load(),
		Admitted:       s.adm.open.Load(),
		Workers:        make([]WorkerStats, len(s.workers)),
	}
	for i, w := range s.workers {
		ws := w.stats.snapshot()
		st.Workers[i] = ws
		st.CurrConns += ws.CurrConns
		st.TotalConns += ws.TotalConns
		st.BytesIn += ws.BytesIn
		st.BytesOut += ws.BytesOut
	}
	return st
}

// Server returns the server c belongs to. It is declared here rather than
// beside Conn so that a connection need not know the Server's type.
func (c *Conn) Server() *Server { return c.o.srv.(*Server) }

// procsMu serializes ensureProcs, so that two servers starting at once
// cannot lower what the other raised.
var procsMu sync.Mutex

// ensureProcs raises GOMAXPROCS to n when it is lower; it never lowers it.
//
// Every Worker and Acceptor is a goroutine locked to its thread that waits
// in epoll_wait, first in a raw one that keeps its P (loopwait.Wait). With
// fewer Ps than such threads, the other goroutines, and a loop that wakes
// from the blocking part of its wait, find no P free until a raw wait ends
// or sysmon retakes one, which takes from 20 µs to milliseconds. One P per
// locked thread and one for everything else avoids that.
func ensureProcs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
}
