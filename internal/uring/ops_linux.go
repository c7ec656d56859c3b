package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The requests a reactor submits, each a method filling a zeroed SQE.

// Opcodes used here (enum io_uring_op).
const (
	OpNop         = 0
	OpPollAdd     = 6
	OpAccept      = 13
	OpAsyncCancel = 14
	OpClose       = 19
	OpSend        = 26
	OpRecv        = 27
	OpMsgRing     = 40
)

// Completion flags (IORING_CQE_F_*).
const (
	// CQEFBuffer: the completion names the provided buffer it filled, in
	// Flags >> CQEBufferShift.
	CQEFBuffer = 1 << 0
	// CQEFMore: a multishot request stays armed after this completion.
	CQEFMore = 1 << 1
	// CQEBufferShift is where a completion's buffer id starts in Flags.
	CQEBufferShift = 16
)

const (
	sqeBufferSelect   = 1 << 5 // IOSQE_BUFFER_SELECT
	acceptMultishot   = 1 << 0 // IORING_ACCEPT_MULTISHOT, in the SQE's ioprio
	recvMultishot     = 1 << 1 // IORING_RECV_MULTISHOT, in the SQE's ioprio
	cancelFd          = 1 << 1 // IORING_ASYNC_CANCEL_FD
	cancelAll         = 1 << 0 // IORING_ASYNC_CANCEL_ALL
	pollAddMulti      = 1 << 0 // IORING_POLL_ADD_MULTI, in the SQE's len
	recvsendPollFirst = 1 << 0 // IORING_RECVSEND_POLL_FIRST, in the SQE's ioprio
)

// Nop fills e as a no-op completing with data.
func (e *SQE) Nop(data uint64) {
	e.Opcode, e.UserData = OpNop, data
}

// AcceptMultishot fills e to accept connections on the listening socket
// fd, one completion per connection (Res the new fd, nonblocking and
// close-on-exec, Flags with CQEFMore while the request stays armed), all
// tagged data, from one submission. When a completion comes without
// CQEFMore (EMFILE, ENFILE, a full CQ) the request has ended and must be
// submitted again. Linux 5.19.
func (e *SQE) AcceptMultishot(fd int, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpAccept, int32(fd), data
	e.Ioprio = acceptMultishot
	e.OpFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
}

// MsgRing fills e to post a completion to the ring whose fd is target,
// with that ring's CQE UserData set to data and Res to res; this ring gets
// a completion of its own, tagged self. It is how one ring hands a value
// (an accepted fd's number) straight into another's completion queue.
func (e *SQE) MsgRing(target int, res uint32, data, self uint64) {
	e.Opcode, e.Fd, e.Len, e.Off, e.UserData = OpMsgRing, int32(target), res, data, self
}

// RecvMultishot fills e to receive on the socket fd into buffers of the
// group registered by Ring.RegisterBufRing, one completion per receive
// (Res the bytes, Flags with CQEFBuffer and the buffer's id, and CQEFMore
// while armed), tagged data. It ends, a completion without CQEFMore, at
// the peer's EOF (Res 0), on an error, and when the group has no buffer
// (-ENOBUFS), which consumes no input: submitted again once buffers are
// back, it receives what waited. Linux 6.0.
func (e *SQE) RecvMultishot(fd int, group uint16, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpRecv, int32(fd), data
	e.Flags = sqeBufferSelect
	e.BufIndex = group
	e.Ioprio = recvMultishot
}

// Limit ends e's multishot receive once it has received n bytes or more
// in all, with that receive's completion, without CQEFMore (sqe->optlen);
// the receive that reaches n still fills its buffer. A loop bounded in
// what it holds arms it with a buffer's size: what comes in between its
// decision to stop reading and the cancel running is then at most two
// buffers. Kernels that do not know the limit refuse the request with
// EINVAL; ProbeRecvLimit finds out.
func (e *SQE) Limit(n uint32) { e.SpliceFdIn = int32(n) }

// Recv fills e to receive once on the socket fd into a buffer of group,
// tagged data: RecvMultishot's completion, the request ended after it. A
// loop that must stop reading at once (its output bound) arms one at a
// time where the kernel has no Limit, since a multishot receive without
// one fills buffers until its cancel runs.
func (e *SQE) Recv(fd int, group uint16, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpRecv, int32(fd), data
	e.Flags = sqeBufferSelect
	e.BufIndex = group
}

// PollFirst makes e's receive or send wait for the socket to be ready
// before its first attempt (IORING_RECVSEND_POLL_FIRST; Linux 5.19): for
// a receive armed right after a reply, whose peer has yet to read it and
// send the next request, the attempt would find nothing.
func (e *SQE) PollFirst() { e.Ioprio |= recvsendPollFirst }

// Send fills e to send p on the socket fd, without SIGPIPE, tagged data.
// The kernel reads p when it runs the request, after Submit returns: p
// must be kept, unchanged, until the completion is reaped. Res is the
// bytes sent, which may be fewer than len(p).
func (e *SQE) Send(fd int, p []byte, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpSend, int32(fd), data
	if len(p) > 0 {
		e.Addr = uint64(uintptr(unsafe.Pointer(&p[0])))
	}
	e.Len = uint32(len(p))
	e.OpFlags = unix.MSG_NOSIGNAL
}

// Close fills e to close fd, tagged data. A request still armed on fd
// holds its file open: cancel it (CancelFd) first.
func (e *SQE) Close(fd int, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpClose, int32(fd), data
}

// CancelFd fills e to cancel every request on fd (a multishot receive, a
// send in flight), tagged data; each cancelled request completes with
// -ECANCELED, and this one with the count cancelled, or -ENOENT for none.
// Linux 5.19.
func (e *SQE) CancelFd(fd int, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpAsyncCancel, int32(fd), data
	e.OpFlags = cancelFd | cancelAll
}

// PollMultishot fills e to report, tagged data, each time fd becomes
// readable (POLLIN), from one submission: how a ring's loop waits on an
// eventfd that other goroutines write. A completion without CQEFMore ends
// it. Linux 5.13.
func (e *SQE) PollMultishot(fd int, data uint64) {
	e.Opcode, e.Fd, e.UserData = OpPollAdd, int32(fd), data
	e.OpFlags = unix.POLLIN
	e.Len = pollAddMulti
}

// Cancel fills e to cancel the request submitted with user data target
// (the first one found), tagged data; it completes with 0, or -ENOENT when
// no such request is in flight, -EALREADY when it is running.
func (e *SQE) Cancel(target, data uint64) {
	e.Opcode, e.Addr, e.UserData = OpAsyncCancel, target, data
}
