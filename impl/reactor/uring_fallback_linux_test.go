package reactor_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/uring"
)

// fallbackChild names the environment variable that makes the test binary
// run TestUringFallbackChild under a seccomp filter.
const fallbackChild = "HANDOFF_URING_FALLBACK_CHILD"

// forbidUring installs a seccomp filter on every thread of the process
// that fails io_uring_setup with ENOSYS, as a kernel without io_uring, or
// a container runtime's profile, makes it fail.
func forbidUring() error {
	const (
		ldAbsW   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeqK     = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		retK     = unix.BPF_RET | unix.BPF_K
		retErrno = 0x00050000 // SECCOMP_RET_ERRNO
		retAllow = 0x7fff0000 // SECCOMP_RET_ALLOW
	)
	filter := []unix.SockFilter{
		{Code: ldAbsW, K: 0}, // seccomp_data.nr
		{Code: jeqK, Jt: 0, Jf: 1, K: unix.SYS_IO_URING_SETUP},
		{Code: retK, K: retErrno | uint32(unix.ENOSYS)},
		{Code: retK, K: retAllow},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	const setModeFilter, flagTsync = 1, 1
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, setModeFilter, flagTsync, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return e
	}
	return nil
}

// The fallback (Config.IO): in a process whose io_uring_setup fails, as
// under a seccomp filter, IOAuto serves on epoll and says so in Stats and
// the log, and IOUring fails New with an error wrapping
// uring.ErrUnsupported. The filter is process-wide and permanent, so the
// check runs in a child test binary.
func TestUringRefusedUnderSeccomp(t *testing.T) {
	needUring(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestUringFallbackChild$", "-test.v")
	cmd.Env = append(os.Environ(), fallbackChild+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "--- PASS: TestUringFallbackChild") {
			t.Fatalf("child: %v\n%s", err, out.String())
		}
	case <-time.After(reactortest.WaitTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("child still running after %v:\n%s", reactortest.WaitTimeout, out.String())
	}
}

// TestUringFallbackChild is TestUringRefusedUnderSeccomp's child; run
// alone, it does nothing.
func TestUringFallbackChild(t *testing.T) {
	if os.Getenv(fallbackChild) != "1" {
		t.Skip("run by TestUringRefusedUnderSeccomp")
	}
	if err := forbidUring(); err != nil {
		t.Skipf("seccomp: %v", err)
	}
	if _, err := uring.New(4); !errors.Is(err, uring.ErrUnsupported) {
		t.Fatalf("uring.New under the filter: %v, want ErrUnsupported", err)
	}
	if _, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, IO: reactor.IOUring, Logger: reactortest.Quiet}, reactortest.NewEcho()); !errors.Is(err, uring.ErrUnsupported) {
		t.Fatalf("IOUring under the filter: %v, want an error wrapping uring.ErrUnsupported", err)
	}
	var log reactortest.LogBuffer
	s := reactortest.Serve(t, reactor.Config{IO: reactor.IOAuto, Logger: slog.New(slog.NewTextHandler(&log, nil))}, reactortest.NewEcho())
	if got := s.Stats().IO; got != string(reactor.IOEpoll) {
		t.Fatalf("IOAuto under the filter serves on %q, want epoll", got)
	}
	if l := log.String(); !strings.Contains(l, "io_uring unavailable, using epoll") {
		t.Errorf("IOAuto fell back without saying so; log:\n%s", l)
	}
	c := reactortest.DialConn(t, s.Addrs()[0])
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping\n" {
		t.Fatalf("echo on the fallback: %q, %v", got, err)
	}
}
