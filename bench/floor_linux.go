package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/bench/answer"
	"github.com/handoffd/handoff/internal/loopwait"
)

// The floor is the cheapest server this kernel allows for the bench's
// traffic: one thread, one epoll set holding the listener and every
// connection, accept and answer in the same loop, no hand-off, no lock. What
// a connection costs it is what a connection costs, so every other server is
// quoted as a ratio to it. It waits as the reactor's loops do
// (loopwait.Wait), so that no server is cheaper than it by waiting better.

// floorConn is one connection's state; both buffers are nil at rest, so an
// idle connection costs the map entry and this struct.
type floorConn struct {
	in  []byte // unconsumed input
	out []byte // output the socket has not taken
}

// serveFloor listens on 127.0.0.1:port and serves until ctx is done.
func serveFloor(ctx context.Context, port int) error {
	lfd, stopfd, err := floorSockets(ctx, port, 1)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	defer unix.Close(stopfd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	epfd, err := epollOver(lfd, stopfd)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	f := newFloor(epfd, answer.NewStore())
	defer f.closeAll()
	events := make([]unix.EpollEvent, 256)
	for {
		ready, err := waitEvents(epfd, events)
		if err != nil {
			return err
		}
		for _, ev := range ready {
			switch fd := int(ev.Fd); fd {
			case stopfd:
				return nil
			case lfd:
				f.acceptAll(lfd)
			default:
				f.onEvent(fd, ev.Events)
			}
		}
	}
}

type floor struct {
	epfd  int
	store *answer.Store
	conns map[int]*floorConn
	rbuf  []byte
	out   []byte
}

func newFloor(epfd int, store *answer.Store) *floor {
	return &floor{epfd: epfd, store: store, conns: make(map[int]*floorConn), rbuf: make([]byte, 64<<10)}
}

// floorSockets returns a floor's listening socket on 127.0.0.1:port and the
// eventfd that tells its loops to stop when ctx is done. Every one of its
// `loops` loops keeps its P while it waits (loopwait.Wait), so it raises
// GOMAXPROCS to leave one for the rest, as reactor.Serve does.
func floorSockets(ctx context.Context, port, loops int) (lfd, stopfd int, err error) {
	if runtime.GOMAXPROCS(0) < loops+1 {
		runtime.GOMAXPROCS(loops + 1)
	}
	if lfd, err = listenTCP(port); err != nil {
		return -1, -1, err
	}
	if stopfd, err = stopFD(ctx); err != nil {
		unix.Close(lfd)
		return -1, -1, err
	}
	return lfd, stopfd, nil
}

func (f *floor) acceptAll(lfd int) {
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		default:
			// EAGAIN: the backlog is empty. EMFILE and the rest: the bench
			// never drives the floor there; the next event retries.
			return
		}
		f.add(fd)
	}
}

// add puts a new connection into the epoll set.
func (f *floor) add(fd int) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		_ = unix.Close(fd)
		return
	}
	f.conns[fd] = new(floorConn)
}

func (f *floor) onEvent(fd int, events uint32) {
	c := f.conns[fd]
	if c == nil {
		return
	}
	if events&unix.EPOLLOUT != 0 && len(c.out) > 0 {
		n, err := unix.Write(fd, c.out)
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			f.drop(fd)
			return
		}
		c.out = c.out[max(n, 0):]
		if len(c.out) == 0 {
			c.out = nil
			f.interest(fd, unix.EPOLLIN)
		}
		return
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	n, err := unix.Read(fd, f.rbuf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil || n == 0 {
		f.drop(fd)
		return
	}
	in := f.rbuf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, in...)
		in = c.in
	}
	used, out, closeNow := f.store.Answer(in, f.out[:0])
	f.out = out
	if rest := in[used:]; len(rest) > 0 {
		if len(rest) > answer.MaxLine+answer.MaxValue+2 {
			f.drop(fd)
			return
		}
		c.in = append(c.in[:0], rest...)
	} else {
		c.in = nil
	}
	if len(out) > 0 && len(c.out) == 0 {
		w, err := unix.Write(fd, out)
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			f.drop(fd)
			return
		}
		out = out[max(w, 0):]
		if len(out) > 0 {
			c.out = append([]byte(nil), out...)
			f.interest(fd, unix.EPOLLOUT)
		}
	} else if len(out) > 0 {
		c.out = append(c.out, out...)
	}
	if closeNow {
		f.drop(fd)
	}
}

func (f *floor) interest(fd int, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(f.epfd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		f.drop(fd)
	}
}

// drop closes fd; close(2) also takes it out of the epoll set.
func (f *floor) drop(fd int) {
	delete(f.conns, fd)
	_ = unix.Close(fd)
}

func (f *floor) closeAll() {
	for fd := range f.conns {
		f.drop(fd)
	}
}

// listenTCP returns a non-blocking listening socket on 127.0.0.1:port.
func listenTCP(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind", fmt.Errorf("127.0.0.1:%d: %w", port, err))
	}
	if err := unix.Listen(fd, 1024); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

// stopFD returns an eventfd that becomes readable, and stays so, when ctx is
// done: the server loops watch it in their epoll sets.
func stopFD(ctx context.Context) (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	go func() {
		<-ctx.Done()
		var b [8]byte
		binary.NativeEndian.PutUint64(b[:], 1)
		_, _ = unix.Write(fd, b[:])
	}()
	return fd, nil
}

// waitEvents returns the events ready on epfd, waiting as long as it takes;
// a signal only makes it wait again.
func waitEvents(epfd int, events []unix.EpollEvent) ([]unix.EpollEvent, error) {
	for {
		n, err := loopwait.Wait(epfd, events, -1)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return nil, os.NewSyscallError("epoll_wait", err)
		default:
			return events[:n], nil
		}
	}
}
