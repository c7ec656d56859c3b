package uring

import (
	"errors"
	"testing"
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

// reap waits for exactly n completions, failing after a bounded number of
// waits (each io_uring_enter with GETEVENTS returns once one is ready).
func reap(t *testing.T, r *Ring, n int) []CQE {
	t.Helper()
	var got []CQE
	buf := make([]CQE, 64)
	for tries := 0; len(got) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("%d of %d completions after 1000 waits", len(got), n)
		}
		k := r.Reap(buf)
		got = append(got, buf[:k]...)
		if len(got) < n {
			if _, err := r.Submit(1); err != nil && !errors.Is(err, unix.EINTR) {
				t.Fatal(err)
			}
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
	if _, err := acceptor.Submit(1); err != nil {
		if errors.Is(err, unix.EINVAL) {
			t.Skip("MSG_RING needs Linux 5.18")
		}
		t.Fatal(err)
	}
	if c := reap(t, acceptor, 1)[0]; c.UserData != 1 || c.Res != 0 {
		t.Fatalf("sender's completion: %+v, want user data 1, res 0", c)
	}
	if c := reap(t, worker, 1)[0]; c.UserData != 7 || c.Res != 42 {
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
