package loopwait

import (
	"encoding/binary"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newSet returns an epoll set watching a fresh eventfd, and the eventfd.
func newSet(t *testing.T) (epfd, efd int) {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(epfd); unix.Close(efd) })
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		t.Fatal(err)
	}
	return epfd, efd
}

func signal(t *testing.T, efd int) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	if _, err := unix.Write(efd, b[:]); err != nil {
		t.Error(err)
	}
}

// waitRetry is Wait as a loop calls it: EINTR (a signal, such as the
// runtime's preemption) means wait again, with the time left.
func waitRetry(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	deadline := time.Now().Add(time.Duration(msec) * time.Millisecond)
	for {
		n, err := Wait(epfd, events, msec)
		if err != unix.EINTR {
			return n, err
		}
		if msec > 0 {
			msec = max(int(time.Until(deadline)/time.Millisecond), 0)
		}
	}
}

// A ready event is returned at once, whatever the timeout.
func TestWaitReturnsReadyEvents(t *testing.T) {
	epfd, efd := newSet(t)
	signal(t, efd)
	events := make([]unix.EpollEvent, 4)
	for _, msec := range []int{0, 1, 1000, -1} {
		n, err := waitRetry(epfd, events, msec)
		if err != nil || n != 1 || int(events[0].Fd) != efd {
			t.Fatalf("Wait(%d) = %d, %v (fd %d), want the eventfd", msec, n, err, events[0].Fd)
		}
	}
}

// A timeout is kept on both sides of RawMax: Wait returns (0, nil) no sooner
// than asked, and msec 0 does not wait.
func TestWaitKeepsTimeout(t *testing.T) {
	epfd, _ := newSet(t)
	events := make([]unix.EpollEvent, 4)
	for _, msec := range []int{0, 2, int(RawMax/time.Millisecond) + 25} {
		start := time.Now()
		n, err := waitRetry(epfd, events, msec)
		took := time.Since(start)
		if n != 0 || err != nil {
			t.Fatalf("Wait(%d) = %d, %v on an empty set", msec, n, err)
		}
		if want := time.Duration(msec) * time.Millisecond; took < want-time.Millisecond {
			t.Errorf("Wait(%d) returned after %v", msec, took)
		}
		if took > time.Duration(msec)*time.Millisecond+5*time.Second {
			t.Errorf("Wait(%d) took %v", msec, took)
		}
	}
}

// An event that comes after the raw part of the wait, while the loop blocks
// the scheduler's way, still wakes it.
func TestWaitWakesAfterRawPart(t *testing.T) {
	epfd, efd := newSet(t)
	events := make([]unix.EpollEvent, 4)
	signalled := make(chan struct{})
	go func() {
		defer close(signalled)
		time.Sleep(4 * RawMax)
		signal(t, efd)
	}()
	n, err := waitRetry(epfd, events, -1)
	<-signalled
	if err != nil || n != 1 || int(events[0].Fd) != efd {
		t.Fatalf("Wait(-1) = %d, %v, want the eventfd", n, err)
	}
}

// rawForever is the broken twin of Wait: a raw epoll_wait without limit.
func rawForever(epfd int, events []unix.EpollEvent, _ int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), ^uintptr(0), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// stwChild, in a child process, parks a locked loop in a wait that never
// sees an event and runs the garbage collector: it exits 0 once GC is done.
const stwChild = "LOOPWAIT_STW_CHILD"

func TestMain(m *testing.M) {
	if which := os.Getenv(stwChild); which != "" {
		wait := Wait
		if which == "raw" {
			wait = rawForever
		}
		runtime.GOMAXPROCS(2)
		efd, _ := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		epfd, _ := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}
		_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev)
		started := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			events := make([]unix.EpollEvent, 1)
			close(started)
			for {
				_, _ = wait(epfd, events, -1)
			}
		}()
		<-started
		time.Sleep(50 * time.Millisecond) // let the loop reach its wait
		for range 5 {
			runtime.GC()
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stwDone runs the child with the given wait, without preemption signals,
// and reports whether its garbage collections finished within limit.
func stwDone(t *testing.T, which string, limit time.Duration) bool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), stwChild+"="+which, "GODEBUG=asyncpreemptoff=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child (%s): %v", which, err)
		}
		return true
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}

// A stop-the-world reaches a loop waiting in Wait even when the runtime
// sends no preemption signals (GODEBUG=asyncpreemptoff=1): the raw part of
// the wait ends within RawMax and the rest is a syscall the GC does not wait
// for. Its broken twin, a raw wait without limit, holds the GC forever.
func TestWaitLetsGCStopTheWorld(t *testing.T) {
	if !stwDone(t, "wait", 30*time.Second) {
		t.Error("GC did not finish in 30 s while a loop waited in Wait")
	}
	if stwDone(t, "raw", 2*time.Second) {
		t.Error("GC finished while a loop waited in a raw epoll_wait without limit: the check cannot fail")
	}
}

// cpuWhileWaiting runs a locked loop that calls wait on an empty set for
// about d, and returns the CPU time the process used meanwhile.
func cpuWhileWaiting(t *testing.T, d time.Duration, wait func(int, []unix.EpollEvent, int) (int, error)) time.Duration {
	t.Helper()
	epfd, efd := newSet(t)
	var before, after unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &before); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		events := make([]unix.EpollEvent, 4)
		for end := time.Now().Add(d); time.Now().Before(end); {
			if n, _ := wait(epfd, events, -1); n > 0 {
				return
			}
		}
	}()
	time.Sleep(d)
	signal(t, efd)
	<-done
	if err := unix.Getrusage(unix.RUSAGE_SELF, &after); err != nil {
		t.Fatal(err)
	}
	used := func(r unix.Rusage) time.Duration {
		return time.Duration(r.Utime.Nano() + r.Stime.Nano())
	}
	return used(after) - used(before)
}

// An idle loop does not spin: waiting a second in Wait costs well under a
// tenth of a second of CPU. Its broken twin, a loop that only polls, is
// caught by the same bound.
func TestWaitDoesNotSpin(t *testing.T) {
	const d = time.Second
	if got := cpuWhileWaiting(t, d, Wait); got > d/10 {
		t.Errorf("an idle loop in Wait used %v of CPU in %v", got, d)
	}
	poll := func(epfd int, events []unix.EpollEvent, _ int) (int, error) { return Wait(epfd, events, 0) }
	if got := cpuWhileWaiting(t, d, poll); got <= d/10 {
		t.Errorf("a polling loop used only %v of CPU in %v: the check cannot fail", got, d)
	}
}
