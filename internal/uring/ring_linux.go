package uring

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The layout of the kernel's structures (include/uapi/linux/io_uring.h),
// which x/sys does not carry.

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// sqOffsets is struct io_sqring_offsets: where in the SQ ring's mapping
// each field lies.
type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqOffsets is struct io_cqring_offsets.
type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// SQE is struct io_uring_sqe, a submission: what the kernel is asked to
// do. Fields a request does not use must be zero; Ring.SQE hands out
// zeroed entries.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64 // also addr2; MSG_RING: the target completion's UserData
	Addr        uint64
	Len         uint32 // MSG_RING: the target completion's Res
	OpFlags     uint32 // the union of rw_flags, accept_flags, msg_ring_flags, ...
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	SpliceFdIn  int32
	Addr3       uint64
	_           uint64
}

// CQE is struct io_uring_cqe, a completion: UserData as submitted, Res the
// result (a count, an fd, or -errno), Flags such as CQEFMore.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// The ring's own flags and offsets; the requests' are in ops_linux.go.
const (
	featNoDrop     = 1 << 1 // IORING_FEAT_NODROP
	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	featExtArg     = 1 << 8 // IORING_FEAT_EXT_ARG
	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS
	enterExtArg    = 1 << 3 // IORING_ENTER_EXT_ARG

	setupSubmitAll   = 1 << 7 // IORING_SETUP_SUBMIT_ALL
	setupCoopTaskrun = 1 << 8 // IORING_SETUP_COOP_TASKRUN

	// setupFlags are every ring's. COOP_TASKRUN: a completion that needs
	// the ring's thread to finish it (a receive whose data came in, run
	// as task work) waits for the thread's next io_uring_enter instead of
	// interrupting it; a loop enters every turn, so nothing waits longer
	// than a turn, and the interrupt (about a sixth of a request's CPU
	// under load, measured) is saved. SUBMIT_ALL: an entry that fails at
	// submission posts its error as a completion and the rest of the batch
	// is still submitted, so that every entry filled gets one.
	setupFlags = setupSubmitAll | setupCoopTaskrun

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// Ring is one io_uring instance.
//
// Memory ordering. Each ring is a single-producer, single-consumer queue
// between this process and the kernel, indexed by free-running 32-bit
// counters masked by ringMask:
//   - SQ: the process writes an entry, then publishes it by storing tail
//     (a release: the kernel must see the entry before the tail that
//     covers it); it reads head, which the kernel advances as it consumes,
//     with an acquire, so that a slot is reused only after the kernel is
//     done with it.
//   - CQ: the kernel writes a completion, then stores tail; the process
//     loads tail with an acquire before reading the completions it covers,
//     and stores head with a release once it has copied them out, handing
//     the slots back.
//
// Go's sync/atomic operations are sequentially consistent, stronger than
// the acquire and release the protocol needs, and are what is used on each
// shared index. The indices the process alone writes (sqTail, cqHead) are
// also kept in plain fields, so that it never reads back what it wrote.
type Ring struct {
	fd       int
	features uint32
	sqMap    []byte // the SQ ring (and, with SINGLE_MMAP, the CQ ring)
	cqMap    []byte // the CQ ring's own mapping, or nil
	sqeMap   []byte // the array of SQEs

	sqHead, sqTail, sqMask, sqEntries *uint32
	sqArray                           []uint32
	sqes                              []SQE
	cqHead, cqTail, cqMask, cqEntries *uint32
	cqOverflow                        *uint32
	cqes                              []CQE

	// waitTS and waitArg are Wait's timeout and extended argument.
	waitTS  unix.Timespec
	waitArg getEventsArg

	// tail is the next SQ slot to fill, ahead of *sqTail by the entries
	// filled and not yet published by Submit; head is the next CQ entry to
	// read. Invariant: tail - *sqHead <= sqEntries.
	tail, head uint32
}

// New sets up a ring of at least entries submissions, and twice as many
// completions (the kernel's default), with setupFlags where the kernel
// knows them. It fails with ErrUnsupported, wrapped with the errno, where
// io_uring cannot be used.
func New(entries uint32) (*Ring, error) {
	p := params{flags: setupFlags}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno == unix.EINVAL {
		// A kernel before 5.19 refuses the flags it does not know; the
		// ring works without them, at the cost they save.
		p = params{}
		fd, _, errno = unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	switch errno {
	case 0:
	case unix.ENOSYS, unix.EPERM:
		// ENOSYS: no io_uring in this kernel; EPERM: a seccomp filter or
		// kernel.io_uring_disabled=2 (or 1 without the group) forbids it.
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, os.NewSyscallError("io_uring_setup", errno))
	default:
		// EINVAL (entries 0 or over the maximum), EMFILE, ENFILE, ENOMEM.
		return nil, os.NewSyscallError("io_uring_setup", errno)
	}
	r := &Ring{fd: int(fd), features: p.features}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// mapRings maps the rings and the SQE array and points the Ring's fields
// into them.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(CQE{}))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.sqMap, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return os.NewSyscallError("mmap sq ring", err)
	}
	cq := r.sqMap
	if !single {
		if r.cqMap, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return os.NewSyscallError("mmap cq ring", err)
		}
		cq = r.cqMap
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(SQE{}))
	if r.sqeMap, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return os.NewSyscallError("mmap sqes", err)
	}
	u32 := func(m []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&m[off])) }
	r.sqHead, r.sqTail = u32(r.sqMap, p.sqOff.head), u32(r.sqMap, p.sqOff.tail)
	r.sqMask, r.sqEntries = u32(r.sqMap, p.sqOff.ringMask), u32(r.sqMap, p.sqOff.ringEntries)
	r.sqArray = unsafe.Slice(u32(r.sqMap, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.cqHead, r.cqTail = u32(cq, p.cqOff.head), u32(cq, p.cqOff.tail)
	r.cqMask, r.cqEntries = u32(cq, p.cqOff.ringMask), u32(cq, p.cqOff.ringEntries)
	r.cqOverflow = u32(cq, p.cqOff.overflow)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.tail = atomic.LoadUint32(r.sqTail)
	r.head = atomic.LoadUint32(r.cqHead)
	return nil
}

// Fd is the ring's file descriptor, the target of another ring's MSG_RING.
func (r *Ring) Fd() int { return r.fd }

// NoDrop reports IORING_FEAT_NODROP: a completion that finds the CQ full
// is held by the kernel, not dropped, and submissions fail with EBUSY
// until the process reaps.
func (r *Ring) NoDrop() bool { return r.features&featNoDrop != 0 }

// Entries is the ring's SQ and CQ sizes.
func (r *Ring) Entries() (sq, cq uint32) { return *r.sqEntries, *r.cqEntries }

// SQE returns the next submission entry, zeroed, to fill; it is sent by the
// next Submit. ErrFull: the kernel has not consumed enough of the ring.
func (r *Ring) SQE() (*SQE, error) {
	if r.tail-atomic.LoadUint32(r.sqHead) >= *r.sqEntries {
		return nil, ErrFull
	}
	i := r.tail & *r.sqMask
	e := &r.sqes[i]
	*e = SQE{}
	r.sqArray[i] = i
	r.tail++
	return e, nil
}

// Submit publishes the entries filled since the last Submit and enters the
// kernel to submit them, waiting for at least wait completions (0: none).
// It returns how many entries the kernel took. EINTR is returned as is: the
// caller waits again, as an epoll loop does; EBUSY means the CQ is full
// (with NODROP) and must be reaped first.
func (r *Ring) Submit(wait uint32) (int, error) {
	atomic.StoreUint32(r.sqTail, r.tail)
	toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
	var flags uintptr
	if wait > 0 {
		flags = enterGetEvents
	}
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(wait), flags, 0, 0)
	if errno != 0 {
		return int(n), os.NewSyscallError("io_uring_enter", errno)
	}
	return int(n), nil
}

// getEventsArg is struct io_uring_getevents_arg, io_uring_enter's extended
// argument: here only its timeout.
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64 // *unix.Timespec (struct __kernel_timespec)
}

// Wait submits what Submit would, then waits until at least min
// completions are ready or timeout passes; unix.ETIME when it passed first
// (the loop's timer, as epoll_wait's timeout is), EINTR on a signal. It
// needs IORING_FEAT_EXT_ARG (Linux 5.11); without it, it fails with
// ErrUnsupported.
func (r *Ring) Wait(min uint32, timeout time.Duration) (int, error) {
	return r.wait(min, timeout, false)
}

// WaitRaw is Wait, or with timeout < 0 Submit(min), but waits first for
// at most raw in an io_uring_enter the scheduler is not told of, which
// keeps the thread's P, and only then in one it is: internal/loopwait's
// rule for an epoll loop, for the same reason (a busy loop locked to its
// thread otherwise pays entersyscall and exitsyscall at every wait, and
// loses its P to sysmon at its next one once it has run 10 ms).
func (r *Ring) WaitRaw(min uint32, timeout, raw time.Duration) (int, error) {
	first := raw
	if timeout >= 0 && timeout < raw {
		first = timeout
	}
	n, err := r.wait(min, first, true)
	if !errors.Is(err, unix.ETIME) || timeout >= 0 && timeout <= raw {
		return n, err
	}
	if timeout < 0 {
		return r.Submit(min)
	}
	return r.wait(min, timeout-raw, false)
}

// wait is Wait, in a raw system call when raw is set.
func (r *Ring) wait(min uint32, timeout time.Duration, raw bool) (int, error) {
	if r.features&featExtArg == 0 {
		return 0, fmt.Errorf("%w: no IORING_FEAT_EXT_ARG for a timed wait", ErrUnsupported)
	}
	atomic.StoreUint32(r.sqTail, r.tail)
	toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
	// The timeout is passed by address inside the argument, as an integer
	// the compiler does not see as a pointer: both live in the Ring, on
	// the heap, which does not move.
	r.waitTS = unix.NsecToTimespec(int64(timeout))
	r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
	call := unix.Syscall6
	if raw {
		call = unix.RawSyscall6
	}
	n, _, errno := call(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(min),
		enterGetEvents|enterExtArg, uintptr(unsafe.Pointer(&r.waitArg)), unsafe.Sizeof(r.waitArg))
	runtime.KeepAlive(r)
	if errno != 0 {
		// ETIME: the timeout passed; EINTR: a signal; EBUSY: the CQ is
		// full (NODROP) and must be reaped first.
		return int(n), os.NewSyscallError("io_uring_enter", errno)
	}
	return int(n), nil
}

// Reap copies the completions ready into dst, as many as fit, and hands
// their slots back to the kernel; it returns how many it copied.
func (r *Ring) Reap(dst []CQE) int {
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for r.head != tail && n < len(dst) {
		dst[n] = r.cqes[r.head&*r.cqMask]
		r.head++
		n++
	}
	if n > 0 {
		atomic.StoreUint32(r.cqHead, r.head)
	}
	return n
}

// Overflow is the completions the kernel dropped for a full CQ (only
// without NODROP).
func (r *Ring) Overflow() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// Close unmaps the rings and closes the ring's fd.
func (r *Ring) Close() error {
	for _, m := range [][]byte{r.sqeMap, r.cqMap, r.sqMap} {
		if m != nil {
			// EINVAL only for a mapping that is not one: never here.
			_ = unix.Munmap(m)
		}
	}
	r.sqeMap, r.cqMap, r.sqMap = nil, nil, nil
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}
