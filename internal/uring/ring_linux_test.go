package uring

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newRing returns a ring, skipping the test where io_uring is forbidden
// (a seccomp filter, the io_uring_disabled sysctl): the fallback is the
// caller's, and TestNewReportsUnsupported checks its error.
func newRing(t *testing.T, entries uint32) *Ring {
	t.Helper()
	r, err := New(entries)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// reap waits for exactly n completions, each within 10 s, failing with
// the goroutines' stacks and what it waited for.
func reap(t *testing.T, r *Ring, n int) []CQE {
	t.Helper()
	var got []CQE
	buf := make([]CQE, 64)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		k := r.Reap(buf)
		got = append(got, buf[:k]...)
		if len(got) >= n {
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			stacks := make([]byte, 1<<20)
			t.Fatalf("waiting 10 s for %d completions, %d came: %+v\n%s", n, len(got), got, stacks[:runtime.Stack(stacks, true)])
		}
		if _, err := r.Wait(1, left); err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.ETIME) {
			t.Fatal(err)
		}
	}
	return got
}

// The kernel's structures as this package lays them out: a wrong size
// would misread every field after it.
func TestLayoutMatchesTheKernel(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
		{"io_sqring_offsets", unsafe.Sizeof(sqOffsets{}), 40},
		{"io_cqring_offsets", unsafe.Sizeof(cqOffsets{}), 40},
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), 16},
		{"io_uring_buf_reg", unsafe.Sizeof(bufRegister{}), 40},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, the kernel's is %d", c.name, c.got, c.want)
		}
	}
	if off := unsafe.Offsetof(SQE{}.UserData); off != 32 {
		t.Errorf("sqe user_data at %d, the kernel's at 32", off)
	}
}

// TestNopRoundTrip: every submission completes once, with its user data,
// including more than the SQ holds at once (the slots are reused only after
// the kernel consumed them).
func TestNopRoundTrip(t *testing.T) {
	r := newRing(t, 8)
	sq, cq := r.Entries()
	if sq < 8 || cq < sq {
		t.Fatalf("entries sq %d, cq %d: want sq >= 8, cq >= sq", sq, cq)
	}
	seen := map[uint64]int{}
	const total = 100
	for next := uint64(0); next < total; {
		k := 0
		for ; next < total; next++ {
			e, err := r.SQE()
			if errors.Is(err, ErrFull) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			e.Nop(next)
			k++
		}
		if k == 0 {
			t.Fatal("no free SQE after the last batch was submitted and reaped")
		}
		if n, err := r.Submit(0); err != nil || n != k {
			t.Fatalf("submit %d: took %d, %v", k, n, err)
		}
		for _, c := range reap(t, r, k) {
			if c.Res != 0 {
				t.Fatalf("nop %d: res %d", c.UserData, c.Res)
			}
			seen[c.UserData]++
		}
	}
	for i := range uint64(total) {
		if seen[i] != 1 {
			t.Fatalf("nop %d completed %d times, want once", i, seen[i])
		}
	}
}

// TestSQEFullUntilSubmitted: the SQ refuses an entry past its size until
// the kernel has consumed the filled ones.
func TestSQEFullUntilSubmitted(t *testing.T) {
	r := newRing(t, 4)
	sq, _ := r.Entries()
	for i := range sq {
		e, err := r.SQE()
		if err != nil {
			t.Fatalf("entry %d of %d: %v", i, sq, err)
		}
		e.Nop(uint64(i))
	}
	if _, err := r.SQE(); !errors.Is(err, ErrFull) {
		t.Fatalf("entry %d of %d: %v, want ErrFull", sq+1, sq, err)
	}
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
	reap(t, r, int(sq))
	if _, err := r.SQE(); err != nil {
		t.Fatalf("after submit and reap: %v", err)
	}
}

// TestMsgRingHandsAValueToAnotherRing: MSG_RING posts a completion with the
// sender's chosen user data and result straight into the target ring's CQ
// (the acceptor-to-worker hand-off in one kernel operation), and the sender
// gets its own completion.
func TestMsgRingHandsAValueToAnotherRing(t *testing.T) {
	acceptor, worker := newRing(t, 8), newRing(t, 8)
	e, err := acceptor.SQE()
	if err != nil {
		t.Fatal(err)
	}
	e.MsgRing(worker.Fd(), 42, 7, 1)
	if _, err := acceptor.Submit(0); err != nil {
		t.Fatal(err)
	}
	c := reap(t, acceptor, 1)[0]
	if c.Res == -int32(unix.EINVAL) {
		t.Skip("MSG_RING needs Linux 5.18")
	}
	if c.UserData != 1 || c.Res != 0 {
		t.Fatalf("sender's completion: %+v, want user data 1, res 0", c)
	}
	if c = reap(t, worker, 1)[0]; c.UserData != 7 || c.Res != 42 {
		t.Fatalf("target's completion: %+v, want user data 7, res 42", c)
	}
}

// TestNewReportsUnsupported: a forbidden io_uring_setup is ErrUnsupported,
// which the fallback tests for, and any other failure is not. The entry
// count 0 is refused by every kernel with EINVAL.
func TestNewReportsUnsupported(t *testing.T) {
	_, err := New(0)
	switch {
	case errors.Is(err, ErrUnsupported):
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			t.Fatalf("New(0): %v: ErrUnsupported with neither ENOSYS nor EPERM", err)
		}
	case !errors.Is(err, unix.EINVAL):
		t.Fatalf("New(0): %v, want EINVAL", err)
	}
}

// TestCloseTwice: Close releases the fd once and is then a no-op.
func TestCloseTwice(t *testing.T) {
	r, err := New(4)
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	fd := r.Fd()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("fd %d after Close: %v, want EBADF", fd, err)
	}
}

// TestAcceptAndHandOff: one multishot accept yields a completion per
// connection from a single submission, each a new fd that is the accepted
// socket, and MSG_RING hands each fd to a second ring in accept order: the
// Acceptor's side of the io_uring backend on real loopback sockets.
func TestAcceptAndHandOff(t *testing.T) {
	acceptor, worker := newRing(t, 8), newRing(t, 16)
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 16); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}

	e, err := acceptor.SQE()
	if err != nil {
		t.Fatal(err)
	}
	e.AcceptMultishot(lfd, 99)
	if _, err := acceptor.Submit(0); err != nil {
		t.Fatal(err)
	}
	const conns = 3
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var fds []int32
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		got := reap(t, acceptor, 1)[0]
		if got.UserData != 99 || got.Res < 0 {
			t.Fatalf("accept %d: %+v", i, got)
		}
		if got.Flags&CQEFMore == 0 {
			t.Fatalf("accept %d ended the multishot request (no CQEFMore): %+v", i, got)
		}
		defer unix.Close(int(got.Res))
		peer, err := unix.Getpeername(int(got.Res))
		if err != nil {
			t.Fatalf("accepted fd %d: %v", got.Res, err)
		}
		if p := peer.(*unix.SockaddrInet4).Port; p != c.LocalAddr().(*net.TCPAddr).Port {
			t.Fatalf("accepted fd %d's peer port %d, the client's is %d", got.Res, p, c.LocalAddr().(*net.TCPAddr).Port)
		}
		fds = append(fds, got.Res)
	}
	for i, fd := range fds {
		e, err := acceptor.SQE()
		if err != nil {
			t.Fatal(err)
		}
		e.MsgRing(worker.Fd(), uint32(fd), uint64(i), 1000+uint64(i))
	}
	if _, err := acceptor.Submit(0); err != nil {
		t.Fatal(err)
	}
	for _, c := range reap(t, acceptor, conns) {
		if c.Res != 0 {
			t.Fatalf("MSG_RING completion %+v", c)
		}
	}
	for i, c := range reap(t, worker, conns) {
		if c.UserData != uint64(i) || c.Res != fds[i] {
			t.Fatalf("worker completion %d: %+v, want connection %d, fd %d", i, c, i, fds[i])
		}
	}
}

// TestWaitTimesOut: a wait with nothing to complete ends at its timeout
// with ETIME, as a loop's timed wait must.
func TestWaitTimesOut(t *testing.T) {
	r := newRing(t, 4)
	start := time.Now()
	_, err := r.Wait(1, 20*time.Millisecond)
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if !errors.Is(err, unix.ETIME) {
		t.Fatalf("Wait with nothing submitted: %v, want ETIME", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Wait(20ms) returned after %v", d)
	}
}

// Probe passes on a kernel of 6.0 or later where rings can be set up
// (this machine's is 6.18); elsewhere it says why with ErrUnsupported.
func TestProbe(t *testing.T) {
	err := Probe()
	if errors.Is(err, ErrUnsupported) {
		var u unix.Utsname
		_ = unix.Uname(&u)
		major := u.Release[0] - '0'
		if _, nerr := New(1); nerr == nil && u.Release[1] != '.' || nerr == nil && major >= 6 {
			t.Fatalf("Probe on Linux %s, where a ring can be set up: %v", unix.ByteSliceToString(u.Release[:]), err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestProbeRecvLimit checks that this kernel (6.18) ends a multishot
// receive at its Limit, which the Worker's bound on input relies on.
func TestProbeRecvLimit(t *testing.T) {
	if !ProbeRecvLimit() {
		t.Fatal("ProbeRecvLimit() = false on a kernel that has the limit")
	}
}
