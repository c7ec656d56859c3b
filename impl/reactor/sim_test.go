package reactor

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
	"github.com/handoffd/handoff/internal/simkernel"
	"github.com/handoffd/handoff/model"
)

// This file is the deterministic simulation: the real Acceptors and Workers
// of a Server, built by newServer on a simulated kernel, run pass by pass
// (turn) on the test's goroutine, interleaved with the peers' sends,
// receives, half-closes, closes and resets, with AsyncWrite and Wake from
// "other goroutines", and with the clock, in an order a seed chooses. The
// same seed gives the same run; sim_props_test.go checks what a run did.

// simConfig is one run's system, drawn from its seed.
type simConfig struct {
	workers, acceptors int
	notify             Notify
	wakeup             Wakeup
	maxConns, maxFDs   int
	sockBuf, maxOutput int
	idle               bool
	faults             bool
	steps              int
	// quiesce: let every loop finish its work before Shutdown, so that
	// every accepted connection is registered (abrupt otherwise, with
	// connections still queued).
	quiesce bool
}

func drawConfig(r *rand.Rand) simConfig {
	c := simConfig{
		workers:   1 + r.IntN(3),
		acceptors: 1 + r.IntN(2),
		notify:    []Notify{NotifyPipe, NotifyEventfd}[r.IntN(2)],
		wakeup:    []Wakeup{WakeupPerConn, WakeupCoalesced}[r.IntN(2)],
		maxConns:  []int{2, 4, 64}[r.IntN(3)],
		sockBuf:   []int{3, 8, 64}[r.IntN(3)],
		maxOutput: []int{4, 16, 256}[r.IntN(3)],
		idle:      r.IntN(4) == 0,
		faults:    r.IntN(2) == 0,
		steps:     20 + r.IntN(120),
		quiesce:   r.IntN(4) != 0,
	}
	// The server's own fds (poll sets, notify channels, task and kick
	// eventfds, listeners), plus room for a few connections, sometimes
	// too little (EMFILE).
	own := c.workers*4 + c.acceptors*2 + c.acceptors
	c.maxFDs = own + []int{1, 3, 100}[r.IntN(3)]
	return c
}

func (c simConfig) String() string {
	return fmt.Sprintf("workers=%d acceptors=%d %s/%s maxconns=%d maxfds=%d sockbuf=%d maxoutput=%d idle=%v faults=%v steps=%d quiesce=%v",
		c.workers, c.acceptors, c.notify, c.wakeup, c.maxConns, c.maxFDs, c.sockBuf, c.maxOutput, c.idle, c.faults, c.steps, c.quiesce)
}

// simData is what peers send, none of it a letter the handler acts on.
const simData = "abcdefgijklmnorstuvw"

// simIdle is the idle timeout of the runs that have one.
const simIdle int64 = 1e9

// sim is one run in progress.
type sim struct {
	seed  uint64
	cfg   simConfig
	rng   *rand.Rand
	k     *simkernel.Kernel
	s     *Server
	h     *simHandler
	trace model.Trace
	// log is every action taken, for the failure report.
	log []string
	// peers are the clients, in dial order; sent[i] is what peers[i] sent;
	// gone[i] is set once peers[i] closed or reset its end, after which
	// what was in flight to it may be lost.
	peers []*simkernel.Peer
	sent  [][]byte
	gone  []bool
	// halfClosed[i] is set once peers[i] shut its writing side.
	halfClosed []bool
	// asyncs[id] are the AsyncWrite payloads accepted (nil returned) for
	// connection id, in order; wakes[id] the handler's OnData count when
	// each accepted Wake was made.
	asyncs map[uint64][]string
	wakes  map[uint64][]int
	// events is the buffer the loops' passes share.
	events []kernel.Event
	// stopping: the stop sequence has begun; stopped: it has run.
	stopping, stopped bool
	// running lists the loops whose passes are under way, innermost last.
	running [][2]int
	// problems are the property violations seen during the run.
	problems []string
}

func newSim(seed uint64) (*sim, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	c := drawConfig(r)
	sm := &sim{
		seed: seed, cfg: c, rng: r,
		k:      simkernel.New(c.maxFDs, c.sockBuf),
		asyncs: map[uint64][]string{},
		wakes:  map[uint64][]int{},
		events: make([]kernel.Event, 8),
	}
	sm.h = newSimHandler(sm, rand.New(rand.NewPCG(seed, 0xd0)))
	cfg := Config{
		Listen:    []string{"tcp://127.0.0.1:0"},
		Workers:   c.workers,
		Acceptors: c.acceptors,
		Notify:    c.notify,
		Wakeup:    c.wakeup,
		MaxConns:  c.maxConns,
		MaxOutput: c.maxOutput,
		MaxInput:  64,
		Trace:     sm.trace.Record,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if c.idle {
		cfg.IdleTimeout = 1e9
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if sm.s, err = newServer(cfg, sm.h, sm.k); err != nil {
		return nil, err
	}
	// Faults from here on: New's set-up failing is New's error, tested on
	// the real kernel.
	if c.faults {
		sm.k.Faults = &simFaults{r: rand.New(rand.NewPCG(seed, 0xfa))}
	}
	sm.k.Between = sm.between
	sm.k.Shuffle = rand.New(rand.NewPCG(seed, 0x5f)).Shuffle
	return sm, nil
}

// simFaults fails a few calls and shortens some reads and sends.
type simFaults struct {
	r *rand.Rand
	// addFailed: a registration's epoll_ctl ADD was failed, which the
	// model's vocabulary has no step for yet.
	addFailed bool
}

func (f *simFaults) Fail(call string) syscall.Errno {
	if f.r.IntN(16) != 0 {
		return 0
	}
	switch call {
	case "accept":
		return []syscall.Errno{syscall.EINTR, syscall.ECONNABORTED, syscall.EMFILE, syscall.ENFILE, syscall.EPROTO}[f.r.IntN(5)]
	case "read":
		return []syscall.Errno{syscall.EINTR, syscall.EAGAIN, syscall.ECONNRESET}[f.r.IntN(3)]
	case "send":
		return []syscall.Errno{syscall.EINTR, syscall.EAGAIN, syscall.EPIPE}[f.r.IntN(3)]
	case "pollctl add":
		f.addFailed = true
		return syscall.ENOMEM
	case "pollctl mod":
		return syscall.ENOMEM
	case "pollwait", "write":
		return syscall.EINTR
	}
	return 0
}

func (f *simFaults) Short(call string, n int) int {
	if n > 1 && f.r.IntN(4) == 0 {
		return 1 + f.r.IntN(n-1)
	}
	return n
}

func (sm *sim) logf(format string, a ...any) { sm.log = append(sm.log, fmt.Sprintf(format, a...)) }

func (sm *sim) problem(format string, a ...any) {
	sm.problems = append(sm.problems, fmt.Sprintf(format, a...))
}

// run takes the run's steps, then stops the server, quiescing first or not.
func (sm *sim) run() {
	for range sm.cfg.steps {
		sm.step()
	}
	if sm.cfg.quiesce {
		sm.quiesce()
		sm.checkQuiet()
	}
	sm.stop()
}

// between acts, now and then, in the middle of a loop's pass, at one of its
// system calls: what another goroutine (AsyncWrite, Wake) or a peer does
// at any moment, which a pass taken whole would never let come between
// two of its steps.
func (sm *sim) between(call string) {
	if sm.stopping || sm.rng.IntN(6) != 0 {
		return
	}
	sm.logf("  during %s:", call)
	switch sm.rng.IntN(8) {
	case 6, 7:
		sm.turnOther()
	case 0, 1:
		sm.asyncWrite()
	case 2:
		sm.wake()
	case 3:
		sm.send()
	case 4:
		sm.recv()
	default:
		sm.peerEnd()
	}
}

// step takes one action, drawn by weight.
func (sm *sim) step() {
	r := sm.rng
	switch x := r.IntN(100); {
	case x < 10:
		sm.dial()
	case x < 22:
		sm.send()
	case x < 30:
		sm.recv()
	case x < 32:
		sm.peerEnd()
	case x < 36:
		sm.asyncWrite()
	case x < 39:
		sm.wake()
	case x < 41:
		sm.tick()
	case x < 60:
		sm.turnAcceptor(r.IntN(len(sm.s.acceptors)))
	default:
		sm.turnWorker(r.IntN(len(sm.s.workers)))
	}
}

func (sm *sim) dial() {
	lns := sm.k.Listeners()
	p := sm.k.Dial(lns[sm.rng.IntN(len(lns))])
	if p == nil {
		sm.logf("dial: backlog full")
		return
	}
	sm.peers = append(sm.peers, p)
	sm.sent = append(sm.sent, nil)
	sm.gone = append(sm.gone, false)
	sm.halfClosed = append(sm.halfClosed, false)
	sm.logf("dial: peer %d", len(sm.peers)-1)
}

// pickPeer draws a peer, or -1 when there is none.
func (sm *sim) pickPeer() int {
	if len(sm.peers) == 0 {
		return -1
	}
	return sm.rng.IntN(len(sm.peers))
}

// send offers the next bytes of peer i's stream: letters, which the handler
// echoes, and now and then 'q' (the handler closes), 'p' (it panics), 'h'
// (it holds everything back), 'x' (it writes to another connection of its
// Worker) or 'z' (it closes another).
func (sm *sim) send() {
	i := sm.pickPeer()
	if i < 0 {
		return
	}
	b := make([]byte, 1+sm.rng.IntN(12))
	for j := range b {
		b[j] = simData[(len(sm.sent[i])+j)%len(simData)]
		switch sm.rng.IntN(60) {
		case 0:
			b[j] = 'q'
		case 1:
			b[j] = 'p'
		case 2, 3:
			b[j] = 'h'
		case 4, 5:
			b[j] = 'x'
		case 6:
			b[j] = 'z'
		}
	}
	n := sm.peers[i].Send(b)
	sm.sent[i] = append(sm.sent[i], b[:n]...)
	sm.logf("send: peer %d %q (%d fit)", i, b, n)
}

func (sm *sim) recv() {
	if i := sm.pickPeer(); i >= 0 {
		sm.logf("recv: peer %d took %d", i, sm.peers[i].Recv())
	}
}

// peerEnd half-closes, closes or resets a peer's connection.
func (sm *sim) peerEnd() {
	i := sm.pickPeer()
	if i < 0 {
		return
	}
	switch sm.rng.IntN(3) {
	case 0:
		sm.peers[i].ShutWrite()
		sm.halfClosed[i] = true
		sm.logf("shutwr: peer %d", i)
	case 1:
		sm.peers[i].Close()
		sm.gone[i] = true
		sm.logf("close: peer %d", i)
	default:
		sm.peers[i].Reset()
		sm.gone[i] = true
		sm.logf("reset: peer %d", i)
	}
}

// pickConn draws a connection the handler has opened, closed ones
// included: a stale handle must be refused.
func (sm *sim) pickConn() *Conn {
	if len(sm.h.order) == 0 {
		return nil
	}
	return sm.h.conns[sm.h.order[sm.rng.IntN(len(sm.h.order))]].c
}

// asyncWrite writes to a connection from "another goroutine" (P8, and P6
// for stale handles).
func (sm *sim) asyncWrite() {
	c := sm.pickConn()
	if c == nil || !sm.tasksFree(c) {
		return
	}
	id := c.ID()
	msg := fmt.Sprintf("{%d.%d}", id, len(sm.asyncs[id]))
	closedBefore := sm.h.conns[id].closes > 0
	err := c.AsyncWrite([]byte(msg))
	sm.logf("asyncwrite: conn %d %s: %v", id, msg, err)
	switch {
	case err == nil && closedBefore:
		sm.problem("P6: AsyncWrite on conn %d after its OnClose returned nil", id)
	case err == nil:
		sm.asyncs[id] = append(sm.asyncs[id], msg)
	case closedBefore && err != ErrClosed:
		sm.problem("P6: AsyncWrite on closed conn %d: %v, want ErrClosed", id, err)
	}
}

func (sm *sim) wake() {
	c := sm.pickConn()
	if c == nil || !sm.tasksFree(c) {
		return
	}
	id := c.ID()
	closedBefore := sm.h.conns[id].closes > 0
	err := c.Wake()
	sm.logf("wake: conn %d: %v", id, err)
	switch {
	case err == nil && closedBefore:
		sm.problem("P6: Wake on conn %d after its OnClose returned nil", id)
	case err == nil:
		sm.wakes[id] = append(sm.wakes[id], sm.h.conns[id].datas)
	}
}

// tasksFree reports whether c's Worker's task list is unlocked: a pass
// that made a system call while holding it would deadlock another
// goroutine's AsyncWrite here on one goroutine, so the action is left out
// (the real reactor makes no call under that lock but addTask's own kick).
func (sm *sim) tasksFree(c *Conn) bool {
	if !c.o.tasks.mu.TryLock() {
		sm.logf("  (task list locked: no AsyncWrite or Wake now)")
		return false
	}
	c.o.tasks.mu.Unlock()
	return true
}

func (sm *sim) tick() {
	sm.k.Advance(simIdle / 3)
	sm.logf("tick: clock %d ms", sm.k.Now()/1e6)
}

// turnAcceptor and turnWorker run one pass of a loop. running names the
// loop whose pass is under way, 'a' or 'w' and its index, so that another
// loop's pass can come between two of its system calls (turnOther) and the
// same loop's cannot.
func (sm *sim) turnAcceptor(i int) bool {
	if sm.stopped {
		return false
	}
	defer sm.enterLoop('a', i)()
	sm.logf("turn: acceptor %d", i)
	return sm.s.acceptors[i].turn(make([]kernel.Event, 8))
}

func (sm *sim) turnWorker(i int) bool {
	if sm.stopped {
		return false
	}
	defer sm.enterLoop('w', i)()
	sm.logf("turn: worker %d", i)
	ok := sm.s.workers[i].turn(make([]kernel.Event, 8))
	sm.h.checkBounds(sm.s.workers[i])
	return ok
}

// enterLoop marks loop (kind, i) as running and returns its unmarking.
func (sm *sim) enterLoop(kind byte, i int) func() {
	prev := sm.running
	sm.running = append(sm.running, [2]int{int(kind), i})
	return func() { sm.running = prev }
}

// turnOther runs a pass of a loop not running now, as another thread does
// while this one waits in a system call.
func (sm *sim) turnOther() {
	var idle [][2]int
	for i := range sm.s.acceptors {
		idle = append(idle, [2]int{'a', i})
	}
	for i := range sm.s.workers {
		idle = append(idle, [2]int{'w', i})
	}
	idle = slices.DeleteFunc(idle, func(l [2]int) bool { return slices.Contains(sm.running, l) })
	if len(idle) == 0 {
		return
	}
	l := idle[sm.rng.IntN(len(idle))]
	if l[0] == 'a' {
		sm.turnAcceptor(l[1])
	} else {
		sm.turnWorker(l[1])
	}
}

// quiesce turns every loop and drains every peer until a whole pass
// changes nothing, the clock standing still and no fault injected nor any
// action taken in between: a pass a fault cut short would look quiet
// without being so, and one an action came into would not be.
func (sm *sim) quiesce() {
	sm.logf("quiesce")
	faults, between := sm.k.Faults, sm.k.Between
	sm.k.Faults, sm.k.Between = nil, nil
	defer func() { sm.k.Faults, sm.k.Between = faults, between }()
	for pass := 0; pass < 1000; pass++ {
		if p := sm.flooded(); p >= 0 {
			sm.problem("P9: peer %d received %d bytes, far more than was ever written to it", p, len(sm.peers[p].Received))
			return
		}
		before := sm.fingerprint()
		for i := range sm.s.acceptors {
			sm.s.acceptors[i].turn(sm.events)
		}
		for i := range sm.s.workers {
			sm.s.workers[i].turn(sm.events)
			sm.h.checkBounds(sm.s.workers[i])
		}
		for _, p := range sm.peers {
			p.Recv()
		}
		if sm.fingerprint() == before {
			return
		}
	}
	sm.problem("P4: the loops never went quiet: work is found again and again")
}

// simFlood is more than any run writes to one connection: a peer that
// received this much was sent the same bytes again and again.
const simFlood = 1 << 16

// flooded returns a peer that received more than simFlood bytes, or -1.
func (sm *sim) flooded() int {
	return slices.IndexFunc(sm.peers, func(p *simkernel.Peer) bool { return len(p.Received) > simFlood })
}

// fingerprint sums up what a pass can change, to tell when one changed
// nothing.
func (sm *sim) fingerprint() string {
	var b strings.Builder
	fmt.Fprint(&b, len(sm.trace.Events()), sm.k.Open(), sm.h.calls)
	for _, p := range sm.peers {
		fmt.Fprint(&b, " ", len(p.Received), p.Pending(), p.Accepted(), p.Closed())
	}
	return b.String()
}

// stop runs Shutdown's order, pass by pass: the Acceptors stop, then the
// Workers close what is queued, run their tasks, flush once and close every
// connection, then the server closes its own fds (P7 clean shutdown).
func (sm *sim) stop() {
	sm.logf("shutdown")
	sm.stopping = true
	sm.s.stopAcceptors()
	for i, a := range sm.s.acceptors {
		for n := 0; a.turn(sm.events); n++ {
			if n > 100 {
				sm.problem("P7: acceptor %d does not stop after Shutdown", i)
				break
			}
		}
	}
	sm.s.stopWorkers()
	for i, w := range sm.s.workers {
		for n := 0; w.turn(sm.events); n++ {
			if n > 100 {
				sm.problem("P7: worker %d does not stop after Shutdown", i)
				break
			}
		}
	}
	sm.s.closeAll()
	sm.stopped = true
	for _, p := range sm.peers {
		p.Recv()
	}
}

// report is a failed run's account: what to run to replay it, its system,
// its problems and its actions.
func (sm *sim) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "simulation seed %d (%s)\nreplay: go test -run '^TestSimulation$' -sim.seed=%d ./impl/reactor/\n", sm.seed, sm.cfg, sm.seed)
	for _, p := range sm.problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	b.WriteString("actions:\n")
	for i, l := range sm.log[max(0, len(sm.log)-simLogTail):] {
		fmt.Fprintf(&b, "  %4d %s\n", max(0, len(sm.log)-simLogTail)+i, l)
	}
	ev := sm.trace.Events()
	b.WriteString("trace tail:\n")
	for _, e := range ev[max(0, len(ev)-20):] {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

// peerOf returns the peer whose socket id is id, or nil.
func (sm *sim) peerOf(id int) (int, *simkernel.Peer) {
	i := slices.IndexFunc(sm.peers, func(p *simkernel.Peer) bool { return p.ID() == id })
	if i < 0 {
		return -1, nil
	}
	return i, sm.peers[i]
}

// simLogTail is how many of a failed run's last actions its report shows.
var simLogTail = 60
