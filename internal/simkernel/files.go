package simkernel

import (
	"net"
	"slices"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
)

// pollSet is an epoll set: level-triggered registrations by fd.
type pollSet struct {
	regs map[int]*reg
}

// reg is one registration. f is the file the fd held when it was added:
// a registration goes with its file, as epoll's does, so a later file on
// the same fd number starts unregistered.
type reg struct {
	f      file
	events uint32
	tag    uint32
}

func (*pollSet) ready() uint32 { return 0 }

func (p *pollSet) sorted() []int {
	fds := make([]int, 0, len(p.regs))
	for fd := range p.regs {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	return fds
}

// counter is an eventfd.
type counter struct{ n uint64 }

func (c *counter) ready() uint32 {
	if c.n > 0 {
		return kernel.In | kernel.Out
	}
	return kernel.Out
}

// pipe is a pipe's buffer, shared by its two ends.
type pipe struct {
	buf        []byte
	cap        int
	writerGone bool
}

type pipeEnd struct {
	p     *pipe
	write bool
}

func (e *pipeEnd) ready() uint32 {
	if e.write {
		if len(e.p.buf) < e.p.cap {
			return kernel.Out
		}
		return 0
	}
	var r uint32
	if len(e.p.buf) > 0 {
		r |= kernel.In
	}
	if e.p.writerGone {
		r |= kernel.Hup
	}
	return r
}

// listener is a listening socket and its backlog of connections not yet
// accepted.
type listener struct {
	addr    net.Addr
	backlog []*sock
	max     int
}

func (l *listener) ready() uint32 {
	if len(l.backlog) > 0 {
		return kernel.In
	}
	return 0
}

// sock is the server's end of a connection. in holds what the peer sent
// and the server has not read, out what the server sent and the peer has
// not received; each holds at most cap bytes.
type sock struct {
	id    int
	cap   int
	local net.Addr
	peer  *Peer
	in    []byte
	out   []byte
	// rdEOF: the peer shut its writing side (or closed); reads return 0
	// once in is empty.
	rdEOF bool
	// peerGone: the peer closed; the server's sends fail with EPIPE.
	peerGone bool
	// reset: the peer reset the connection; reads and sends fail with
	// ECONNRESET, and the socket reports Err and Hup.
	reset bool
	// accepted: the reactor took the socket from the backlog; closed: it
	// closed it.
	accepted, closed bool
}

func (s *sock) ready() uint32 {
	if s.reset {
		return kernel.In | kernel.Out | kernel.Err | kernel.Hup
	}
	var r uint32
	if len(s.in) > 0 || s.rdEOF {
		r |= kernel.In
	}
	if len(s.out) < s.cap || s.peerGone {
		r |= kernel.Out
	}
	return r
}

func (s *sock) read(p []byte, k *Kernel) (int, error) {
	switch {
	case s.reset:
		return 0, syscall.ECONNRESET
	case len(s.in) == 0 && s.rdEOF:
		return 0, nil
	case len(s.in) == 0:
		return 0, syscall.EAGAIN
	}
	n := min(len(p), len(s.in))
	if k.Faults != nil {
		n = k.Faults.Short("read", n)
	}
	copy(p, s.in[:n])
	s.in = s.in[n:]
	return n, nil
}

func (s *sock) send(p []byte, k *Kernel) (int, error) {
	switch {
	case s.reset:
		return 0, syscall.ECONNRESET
	case s.peerGone:
		return 0, syscall.EPIPE
	}
	room := s.cap - len(s.out)
	if room == 0 {
		return 0, syscall.EAGAIN
	}
	n := min(room, len(p))
	if k.Faults != nil {
		n = k.Faults.Short("send", n)
	}
	s.out = append(s.out, p[:n]...)
	return n, nil
}

// close is the reactor's close(2): what is in out still reaches the peer,
// then its end of file.
func (s *sock) close() { s.closed = true }

// Peer is the client's end of a connection, driven by the test.
type Peer struct {
	s *sock
	// Received is every byte the server sent that this peer has taken.
	Received []byte
	// EOF is set once the peer has taken everything the server sent and the
	// server closed its end.
	EOF bool
}

// ID is the connection's socket id, as Kernel.SocketID gives it.
func (p *Peer) ID() int { return p.s.id }

// Accepted reports whether the reactor took the connection from the
// backlog; Closed whether it closed its end.
func (p *Peer) Accepted() bool { return p.s.accepted }
func (p *Peer) Closed() bool   { return p.s.closed }

// Send offers b to the server and returns how many bytes fit in the
// socket's buffer; nothing fits once the peer shut its side or the
// connection was reset.
func (p *Peer) Send(b []byte) int {
	s := p.s
	if s.rdEOF || s.reset {
		return 0
	}
	n := min(len(b), s.cap-len(s.in))
	s.in = append(s.in, b[:n]...)
	return n
}

// Recv takes what the server has sent, appending it to Received, and
// returns how many bytes it took.
func (p *Peer) Recv() int {
	s := p.s
	if s.reset {
		return 0
	}
	n := len(s.out)
	p.Received = append(p.Received, s.out...)
	s.out = s.out[:0]
	if s.closed {
		p.EOF = true
	}
	return n
}

// ShutWrite half-closes: the server reads end of file after what was
// sent.
func (p *Peer) ShutWrite() { p.s.rdEOF = true }

// Close closes the peer's end: the server reads end of file, and its
// sends fail.
func (p *Peer) Close() { p.s.rdEOF, p.s.peerGone = true, true }

// Reset resets the connection: whatever either side had not taken is
// lost.
func (p *Peer) Reset() {
	p.s.reset = true
	p.s.in, p.s.out = nil, nil
}

// Pending is how many bytes the server sent that the peer has not taken.
func (p *Peer) Pending() int { return len(p.s.out) }
