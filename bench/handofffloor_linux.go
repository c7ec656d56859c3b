package main

import (
	"context"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/bench/answer"
)

// The hand-off floor is the floor's loop split the way memcached splits it:
// one thread accepts and hands each connection, round-robin, to one of
// `workers` threads through that worker's queue and notify pipe; each worker
// runs the floor's loop over its own epoll set. Nothing else: no stats, no
// limits, no timeouts, no callbacks. Its cost over the floor is what the
// hand-off itself costs on this kernel (a queue lock, a pipe write and read, a
// second thread woken, the socket served on another core than it was
// accepted on), so a server built on the hand-off is best quoted against it
// as well as against the floor.

// handoffWorker is one worker thread: the floor's state plus its queue and
// the read end of its pipe.
type handoffWorker struct {
	floor
	mu    sync.Mutex
	queue []int // accepted fds not yet in the epoll set; guarded by mu
	rfd   int   // notify pipe, read end
	wfd   int   // notify pipe, write end
}

// serveHandoffFloor listens on 127.0.0.1:port and serves until ctx is done.
func serveHandoffFloor(ctx context.Context, port, workers int) error {
	lfd, stopfd, err := floorSockets(ctx, port, workers+1)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	defer unix.Close(stopfd)
	store := answer.NewStore()
	ws := make([]*handoffWorker, workers)
	for i := range ws {
		w := &handoffWorker{floor: *newFloor(-1, store)}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			return os.NewSyscallError("pipe2", err)
		}
		w.rfd, w.wfd = p[0], p[1]
		defer unix.Close(w.rfd)
		defer unix.Close(w.wfd)
		if w.epfd, err = epollOver(w.rfd, stopfd); err != nil {
			return err
		}
		defer unix.Close(w.epfd)
		defer w.closeAll()
		ws[i] = w
	}
	epfd, err := epollOver(lfd, stopfd)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(stopfd) })
	}
	defer wg.Wait()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 8)
	next := 0
	for {
		ready, err := waitEvents(epfd, events)
		if err != nil {
			return err
		}
		for _, ev := range ready {
			if int(ev.Fd) == stopfd {
				return nil
			}
			for {
				fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
				if err == unix.EINTR || err == unix.ECONNABORTED {
					continue
				}
				if err != nil {
					break // EAGAIN: the backlog is empty
				}
				w := ws[next]
				next = (next + 1) % len(ws)
				w.mu.Lock()
				w.queue = append(w.queue, fd)
				w.mu.Unlock()
				// A pipe holds 64 KiB of tokens, far more than the
				// bench's dialers ever queue; the reactor's notify handles
				// a full pipe (notify_linux.go), this floor need not.
				_, _ = unix.Write(w.wfd, token[:])
			}
		}
	}
}

// token is what the acceptor writes to a notify pipe per fd.
var token = [1]byte{1}

// run is a worker thread's loop: the floor's, plus the notify pipe.
func (w *handoffWorker) run(stopfd int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 256)
	var tok [32]byte
	for {
		ready, err := waitEvents(w.epfd, events)
		if err != nil {
			return
		}
		for _, ev := range ready {
			switch fd := int(ev.Fd); fd {
			case stopfd:
				return
			case w.rfd:
				// One token per queued fd; pop as many as were read.
				k, _ := unix.Read(w.rfd, tok[:])
				w.mu.Lock()
				k = min(max(k, 0), len(w.queue))
				fds := append([]int(nil), w.queue[:k]...)
				w.queue = w.queue[k:]
				w.mu.Unlock()
				for _, fd := range fds {
					w.add(fd)
				}
			default:
				w.onEvent(fd, ev.Events)
			}
		}
	}
}

// epollOver returns a new epoll set watching fds for input.
func epollOver(fds ...int) (int, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("epoll_create1", err)
	}
	for _, fd := range fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(epfd)
			return -1, os.NewSyscallError("epoll_ctl add", err)
		}
	}
	return epfd, nil
}
