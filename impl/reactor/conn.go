package reactor

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
)

// owner is what a Conn reaches of the Worker that owns it. The Worker embeds
// it and each of its Conns points to it, so that a connection needs nothing
// of the Worker's loop.
type owner struct {
	*shared
	// id, maxOutput, taskfd and srv are set by newWorker; immutable.
	id        int
	maxOutput int
	// taskfd is the eventfd kicked when a task is added.
	taskfd int
	// srv is the *Server, for Conn.Server; any, so that this file need not
	// know the Server's type.
	srv   any
	tasks taskList
	stats workerStats
	// dirty lists the connections to settle after the current event (see
	// markDirty); owned by the Worker's goroutine.
	dirty []*Conn
	// ring is set for the io_uring backend, immutable: Write never sends
	// itself, the Worker submits the output as one send per connection
	// when the callbacks of the loop's turn are done.
	ring bool
}

// markDirty puts c on the Worker's dirty list so that its poll interest is
// updated (or it is closed) after the current event, even when the write or
// Close came from a callback of another connection.
func (o *owner) markDirty(c *Conn) {
	if !c.dirty {
		c.dirty = true
		o.dirty = append(o.dirty, c)
	}
}

// addTask hands t to the Worker and kicks it, unless a kick is already
// unread. It returns ErrClosed once the Worker has shut its task list.
func (o *owner) addTask(t task) error {
	l := &o.tasks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.list = append(l.list, t)
	o.tr.submit(o.id, t.c.id, t.c.gen, len(t.p))
	if !l.pending {
		l.pending = true
		o.tr.kick(o.id)
		kernel.Kick(o.k, o.taskfd)
	}
	return nil
}

// taskList carries work from other goroutines (AsyncWrite, Wake) to the
// Worker. It has its own eventfd so that it never consumes or fakes a
// connection token: a trace stays exactly the hand-off the model describes.
type taskList struct {
	mu sync.Mutex
	// list is guarded by mu; pending is true while a kick is unread; closed
	// is set by the Worker on shutdown, after which nothing is added and the
	// eventfd is not kicked (it is about to be closed).
	list    []task
	pending bool
	closed  bool
}

// task is an AsyncWrite of p to c, or, with wake set, a Wake of c.
type task struct {
	c    *Conn
	p    []byte
	wake bool
}

// Conn is one connection, owned by the Worker that registered it. Methods
// marked (worker) may only be called on that Worker's goroutine: from inside
// a Handler callback for this connection or for another connection of the
// same Worker (Conn.Worker tells which); the others from any goroutine.
type Conn struct {
	// o, fd, id, gen, peer and peerAsk are set at registration and never
	// change.
	o  *owner
	fd int
	id uint64
	// gen is the registration's generation, carried in its poll events.
	// A new connection on a reused fd gets a new Conn and a new gen, so
	// neither a stale event nor a stale handle (AsyncWrite) reaches it.
	gen uint32
	// peer is the peer's address as accept gave it; peerAsk: accept gave
	// none (io_uring's multishot accept), and RemoteAddr asks the kernel.
	peer    kernel.Peer
	peerAsk bool
	ctx     any
	// remote and local hold the addresses once asked of the kernel, set by
	// whichever goroutine asks first; after OnClose has returned, noAddr
	// where none was asked for (the fd may be another connection's).
	remote, local atomic.Pointer[net.Addr]

	// The fields below are owned by the Worker's goroutine.

	// in holds the input the handler left unconsumed, nil when there is none
	// (no per-connection read buffer at rest). Invariant: len(in) <= MaxInput
	// between callbacks.
	in []byte
	// out[outOff:] is the output the socket has not taken yet; out is nil
	// when there is none. The Worker stops reading while it is MaxOutput or
	// more.
	out    []byte
	outOff int
	// events is the interest set registered with the poll set.
	events uint32
	// closing: Close was called; flush, then close.
	closing bool
	// rdClosed: the peer half-closed (read returned 0); flush, then close.
	rdClosed bool
	// closed: OnClose has run (or is running); nothing reaches c after it.
	closed bool
	// err, when set, closes the connection at once, output discarded.
	err error
	// dirty: c is on its Worker's dirty list, to be settled after the
	// current event because a callback of another connection wrote to it
	// or closed it.
	dirty bool
	// lastActive is the Worker's clock when c last received bytes, for
	// IdleTimeout.
	lastActive int64

	// The io_uring backend's, owned by the Worker's goroutine.

	// sending is the output a send in flight hands the kernel, which
	// reads it until that send completes: it holds the array, and out is
	// neither compacted nor overwritten under it. nil when none is in
	// flight; at most one is.
	sending []byte
	// recv: a receive is armed on fd; cancelling: its cancel is
	// submitted (a pause); cancelled: every request on fd is cancelled (a
	// close). The fd is closed once neither receive nor send is in flight,
	// which may be after OnClose: until then the number is not free, so no
	// newer connection can get it (P6).
	recv, cancelling, cancelled bool

	// gone mirrors closed for other goroutines (AsyncWrite, Wake).
	gone atomic.Bool
	// asyncBytes counts AsyncWrite bytes handed over and not yet run.
	// Invariant: asyncBytes <= MaxOutput.
	asyncBytes atomic.Int64
}

// Write (worker) sends p: at once if nothing is pending, the rest copied to
// the output buffer and flushed when the socket is writable. It returns
// ErrClosed after Close or OnClose, and the write error if the socket failed
// (the connection is then closed after the callback returns).
//
// Bytes Write accepted reach the peer complete and in order, those of
// earlier calls first, unless the connection fails first: a reset, a
// handler panic, an idle timeout, Server.Close, or Server.Shutdown finding
// the socket full at its one last attempt to flush. Close waits for them,
// as net.Conn's Close does not discard what Write accepted. One loss is the
// kernel's: a close(2) with input the peer sent and the handler never read
// resets the connection, and a reply still in the socket may be lost with
// it, as with any TCP server that closes before reading all of a request
// (memcached's quit followed by more commands, say).
//
// Write does not refuse bytes over MaxOutput: a callback's reply is never cut
// in half. The bound holds because the Worker stops reading, so stops calling
// OnData, while the buffer is at MaxOutput or over; a handler that writes more
// than it reads checks OutputLen and returns early.
func (c *Conn) Write(p []byte) error {
	if c.closed || c.closing || c.err != nil {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	c.o.tr.write(c.o.id, c.id, len(p))
	if c.OutputLen() == 0 && !c.o.ring {
		n, err := c.writeSome(p)
		if err != nil {
			// Settled after the current event like any other change, so
			// that a connection a callback of another one wrote to, and
			// found failed, is closed now, not at an event of its own.
			c.err = err
			c.o.markDirty(c)
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
	}
	if c.outOff > 0 && c.outOff >= len(c.out)/2 && c.sending == nil {
		c.out = c.out[:copy(c.out, c.out[c.outOff:])]
		c.outOff = 0
	}
	c.out = append(c.out, p...)
	c.o.markDirty(c)
	return nil
}

// Close (worker) closes the connection once its pending output is flushed:
// OnClose runs, then close(2). It returns ErrClosed if OnClose already ran.
func (c *Conn) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closing = true
	c.o.markDirty(c)
	return nil
}

// OutputLen (worker) returns the bytes buffered and not yet written.
func (c *Conn) OutputLen() int { return len(c.out) - c.outOff }

// AsyncWrite sends a copy of p from any goroutine: it is queued on the
// Worker's task list, which has its own wake-up, and written by the Worker
// like Write. It returns ErrClosed when the connection is gone (a stale
// handle never reaches a newer connection on a reused fd), ErrOutputFull when
// MaxOutput bytes of asynchronous writes are already in flight. Bytes queued
// when the connection closes are dropped.
func (c *Conn) AsyncWrite(p []byte) error {
	if c.gone.Load() {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	n := int64(len(p))
	if c.asyncBytes.Add(n) > int64(c.o.maxOutput) {
		c.asyncBytes.Add(-n)
		return ErrOutputFull
	}
	if err := c.o.addTask(task{c: c, p: append([]byte(nil), p...)}); err != nil {
		c.asyncBytes.Add(-n)
		return err
	}
	return nil
}

// Wake asks c's Worker, from any goroutine, to call OnData for c on the
// Worker's goroutine, offering the input it holds (possibly none: then in is
// empty and OnData must return 0). Work finished elsewhere — a result another
// goroutine computed — is so acted on where c's state lives, without a lock.
// Like AsyncWrite it goes through the Worker's task list, never the
// connection queue. It returns ErrClosed when the connection is gone.
func (c *Conn) Wake() error {
	if c.gone.Load() {
		return ErrClosed
	}
	return c.o.addTask(task{c: c, wake: true})
}

// Worker returns the index of the Worker serving c.
func (c *Conn) Worker() int { return c.o.id }

// ID returns c's global accept sequence number (model.Event.Conn).
func (c *Conn) ID() uint64 { return c.id }

// Fd returns the number of c's socket, for logs that name a connection by
// it as memcached's do. It must not be read, written or closed: the Worker
// owns it, and once OnClose has returned the kernel may give the number to
// another connection.
func (c *Conn) Fd() int { return c.fd }

// RemoteAddr returns the peer's address: a *net.TCPAddr, or a
// *net.UnixAddr whose Name is "" for an unnamed peer and "@name" for an
// abstract one. Never nil: where the kernel could not tell (a peer that
// reset the connection before it was asked, or a first call after OnClose
// returned) it is an unnamed one. Any goroutine may call it until OnClose
// returns, as it may LocalAddr: a handler that lists connections
// (memcached's stats conns) asks only while OnClose has not run. The answer
// is asked of the kernel at most once, and only where accept did not give
// it.
func (c *Conn) RemoteAddr() net.Addr {
	if !c.peerAsk {
		return c.peer.Addr()
	}
	if a := c.asked(&c.remote, c.o.k.PeerAddr); a != nil {
		return a
	}
	return kernel.Peer{}.Addr()
}

// LocalAddr returns the address the peer connected to, which for a listener
// bound to every address is the one it chose; nil once OnClose has run if
// it was not asked before, or if the socket cannot tell. Asked of the kernel
// at the first call, not at accept, so that a connection no one asks about
// costs no system call.
func (c *Conn) LocalAddr() net.Addr { return c.asked(&c.local, c.o.k.LocalAddr) }

// noAddr marks an address not asked for before OnClose returned.
var noAddr net.Addr

// asked returns the address *p holds, asking ask for it the first time.
func (c *Conn) asked(p *atomic.Pointer[net.Addr], ask func(int) (net.Addr, error)) net.Addr {
	if a := p.Load(); a != nil {
		return *a
	}
	a, err := ask(c.fd)
	if err != nil {
		a = nil
	}
	if !p.CompareAndSwap(nil, &a) {
		return *p.Load()
	}
	return a
}

// forgetAddrs ends asking: run once OnClose has returned, before the fd is
// closed, so that no later call asks about a number the kernel may give to
// another connection.
func (c *Conn) forgetAddrs() {
	c.remote.CompareAndSwap(nil, &noAddr)
	c.local.CompareAndSwap(nil, &noAddr)
}

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores v with the connection for the handler's use.
func (c *Conn) SetContext(v any) { c.ctx = v }

// writeSome writes as much of p as the socket takes now.
func (c *Conn) writeSome(p []byte) (int, error) {
	total := 0
	for total < len(p) {
		n, err := c.o.k.Send(c.fd, p[total:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return total, os.NewSyscallError("sendmsg", err)
		}
		c.o.tr.send(c.o.id, c.id, n)
		total += n
	}
	if total > 0 {
		c.o.stats.bytesOut.Add(uint64(total))
	}
	return total, nil
}

// flush writes pending output; the buffer is released once empty.
func (c *Conn) flush() error {
	if c.OutputLen() == 0 {
		return nil
	}
	n, err := c.writeSome(c.out[c.outOff:])
	c.outOff += n
	if c.outOff == len(c.out) {
		c.out, c.outOff = nil, 0
	}
	return err
}
