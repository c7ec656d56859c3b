package reactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/handoffd/handoff/model"
)

// Defaults applied by New to the zero fields of Config.
const (
	DefaultMaxConns   = 1024
	DefaultRejectLine = "ERROR Too many open connections\r\n"
	DefaultBacklog    = 1024
	DefaultMaxOutput  = 4 << 20
	DefaultMaxInput   = 4 << 20
	DefaultReadBuffer = 64 << 10
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrClosed is returned by Conn methods once the connection's OnClose has
	// run, and by AsyncWrite on a handle whose connection is gone: a stale
	// handle never reaches a newer connection on a reused fd (P6).
	ErrClosed = errors.New("reactor: connection closed")
	// ErrInputTooLarge is passed to OnClose when the handler left more than
	// Config.MaxInput bytes unconsumed.
	ErrInputTooLarge = errors.New("reactor: unconsumed input over MaxInput")
	// ErrServerClosed is passed to OnClose for connections closed by Shutdown,
	// and returned by Serve when the server was already shut down.
	ErrServerClosed = errors.New("reactor: server closed")
	// ErrIdleTimeout is passed to OnClose for connections closed by
	// Config.IdleTimeout.
	ErrIdleTimeout = errors.New("reactor: idle timeout")
	// ErrOutputFull is returned by AsyncWrite when the connection already has
	// Config.MaxOutput bytes of asynchronous writes in flight: the bound keeps a
	// producer on another goroutine from growing memory without limit.
	ErrOutputFull = errors.New("reactor: asynchronous output over MaxOutput")
)

// Server is a running or runnable reactor: its listeners are bound by New, its
// Acceptors and Workers run from Serve until Shutdown.
type Server struct {
	cfg Config
	h   Handler
	log *slog.Logger
	// tr is cfg.Trace, copied so that every emission is one nil check.
	tr func(model.Event)

	// listeners are bound by New and closed by closeAll; immutable in between.
	listeners []*listener
	// acceptors and workers are created by New and closed by closeAll;
	// immutable in between.
	acceptors []*acceptor
	workers   []*worker
	bal       balancer

	// open counts admitted connections, queued or registered, not yet closed.
	// Invariant: 0 <= open <= cfg.MaxConns, so queues hold at most MaxConns items.
	open atomic.Int64
	// disabled counts Acceptors whose listeners are out of their epoll set;
	// a Worker that closes a connection wakes them when it is not zero.
	disabled atomic.Int32
	// stopping is set once, before the Acceptors are told to stop.
	stopping atomic.Bool
	stats    serverStats

	mu sync.Mutex
	// state is guarded by mu: stateIdle -> stateServing -> stateStopped, or
	// stateIdle -> stateStopped by a Shutdown without Serve.
	state    int
	stopCh   chan struct{} // closed by Shutdown to make Serve stop
	stopOnce sync.Once
	done     chan struct{} // closed when Serve has joined everything
}

const (
	stateIdle = iota
	stateServing
	stateStopped
)

// New validates cfg, applies its defaults, binds every listener and creates
// the Acceptors' and Workers' epoll sets and notify channels, so that every
// configuration and resource error surfaces here and port 0 is resolved
// (Addrs). Nothing runs until Serve.
func New(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, fmt.Errorf("reactor: nil Handler")
	}
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		h:      h,
		log:    cfg.Logger,
		tr:     cfg.Trace,
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()
	var err error
	if s.listeners, err = bindAll(cfg.Listen, cfg.Acceptors, cfg.Backlog); err != nil {
		return nil, err
	}
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(s, i)
		if err != nil {
			return nil, err
		}
		s.workers = append(s.workers, w)
	}
	s.bal = balancer{kind: cfg.Balance, workers: s.workers}
	for i := 0; i < cfg.Acceptors; i++ {
		var mine []*listener
		for _, ln := range s.listeners {
			if ln.acceptor == i {
				mine = append(mine, ln)
			}
		}
		a, err := newAcceptor(s, i, mine)
		if err != nil {
			return nil, err
		}
		s.acceptors = append(s.acceptors, a)
	}
	ok = true
	return s, nil
}

// applyDefaults fills the zero fields of cfg and rejects the values no
// default can repair.
func applyDefaults(cfg *Config) error {
	if len(cfg.Listen) == 0 {
		return fmt.Errorf("reactor: Config.Listen is empty")
	}
	def := func(v *int, d int, name string) error {
		if *v < 0 {
			return fmt.Errorf("reactor: Config.%s is negative: %d", name, *v)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{
		{&cfg.Workers, runtime.NumCPU(), "Workers"},
		{&cfg.Acceptors, 1, "Acceptors"},
		{&cfg.MaxConns, DefaultMaxConns, "MaxConns"},
		{&cfg.Backlog, DefaultBacklog, "Backlog"},
		{&cfg.MaxOutput, DefaultMaxOutput, "MaxOutput"},
		{&cfg.MaxInput, DefaultMaxInput, "MaxInput"},
		{&cfg.ReadBuffer, DefaultReadBuffer, "ReadBuffer"},
	} {
		if err := def(f.v, f.d, f.name); err != nil {
			return err
		}
	}
	if cfg.IdleTimeout < 0 {
		return fmt.Errorf("reactor: Config.IdleTimeout is negative: %v", cfg.IdleTimeout)
	}
	if err := choose(&cfg.Notify, "Notify", NotifyPipe, NotifyEventfd); err != nil {
		return err
	}
	if err := choose(&cfg.Wakeup, "Wakeup", WakeupPerConn, WakeupCoalesced); err != nil {
		return err
	}
	if err := choose(&cfg.Balance, "Balance", BalanceRoundRobin, BalanceLeastConns); err != nil {
		return err
	}
	if cfg.RejectLine == "" {
		cfg.RejectLine = DefaultRejectLine
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// Addrs returns the bound addresses, each once, in Config.Listen's order:
// "tcp://127.0.0.1:40123", "tcp://[::1]:11211", "unix:///run/handoff.sock".
func (s *Server) Addrs() []string {
	var out []string
	seen := make(map[string]bool)
	for _, ln := range s.listeners {
		if !seen[ln.addr] {
			seen[ln.addr] = true
			out = append(out, ln.addr)
		}
	}
	return out
}

// Serve starts the Workers and Acceptors and blocks until ctx is done or
// Shutdown is called; then it stops them (P7 clean shutdown) and returns nil.
// It returns ErrServerClosed if the server was already shut down or served.
//
// Serve raises the process's GOMAXPROCS to Workers+Acceptors+1 when it is
// lower, and never lowers it: every Worker and Acceptor is a goroutine locked
// to its thread that keeps its P while it waits (see ensureProcs), and the
// rest of the program needs one too.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.state != stateIdle {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.state = stateServing
	s.mu.Unlock()

	ensureProcs(len(s.workers) + len(s.acceptors) + 1)
	var workersWG, acceptorsWG sync.WaitGroup
	for _, w := range s.workers {
		workersWG.Go(w.run)
	}
	for _, a := range s.acceptors {
		acceptorsWG.Go(a.run)
	}
	select {
	case <-ctx.Done():
	case <-s.stopCh:
	}
	// Acceptors first, so that nothing is pushed onto a queue once the
	// Workers start closing what they hold.
	s.stopping.Store(true)
	for _, a := range s.acceptors {
		a.wake()
	}
	acceptorsWG.Wait()
	for _, w := range s.workers {
		w.stop()
	}
	workersWG.Wait()
	s.closeAll()
	s.mu.Lock()
	s.state = stateStopped
	s.mu.Unlock()
	close(s.done)
	return nil
}

// Shutdown stops accepting, closes every fd still queued, runs OnClose for
// every registered connection, closes every fd and joins every goroutine
// (P5 no fd leak, P7 clean shutdown); Serve then returns. If ctx ends first,
// Shutdown returns ctx.Err() and the stop goes on in the background. Called
// without Serve, it closes the listeners and the Workers' channels.
func (s *Server) Shutdown(ctx context.Context) error {
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
		ln.close()
	}
	for _, a := range s.acceptors {
		a.close()
	}
	for _, w := range s.workers {
		w.close()
	}
}

// connClosed is called by a Worker after it closed a connection's fd: the
// admission slot is free again and an Acceptor that stopped on EMFILE may
// retry now rather than at its next 10 ms tick.
func (s *Server) connClosed() {
	s.open.Add(-1)
	if s.disabled.Load() > 0 && !s.stopping.Load() {
		for _, a := range s.acceptors {
			if a.isDisabled.Load() {
				a.wake()
			}
		}
	}
}

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
// locked thread and one for everything else avoids that: on 2 cores with 2
// Workers, GOMAXPROCS 4 instead of 2 cut server CPU per request by 10% and
// per short connection by 9% (scripts/bench.sh, 7 rounds, measured before
// the raw wait, which needs the spare P all the more).
func ensureProcs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
}

// choose sets an empty *v to def and accepts def or other; anything else is
// an error naming Config's field and both choices.
func choose[T ~string](v *T, field string, def, other T) error {
	switch *v {
	case "":
		*v = def
	case def, other:
	default:
		return fmt.Errorf("reactor: unknown Config.%s %q (want %q or %q)", field, *v, def, other)
	}
	return nil
}
