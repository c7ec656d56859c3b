package procstat

import (
	"os"
	"testing"
	"time"
)

// The figures come from /proc: the test's own process must read as using
// some CPU, some memory, a thread or more and its open files, one more with
// one more open, and a pid that does not exist must fail.
func TestOwnFigures(t *testing.T) {
	pid := os.Getpid()
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	ticks, err := CPUTicks(pid)
	if err != nil || ticks <= 0 {
		t.Fatalf("CPUTicks(self) = %d, %v; want > 0 after 50 ms of work", ticks, err)
	}
	if d := TicksToDuration(ticks); d < 10*time.Millisecond {
		t.Errorf("TicksToDuration(%d) = %v", ticks, d)
	}
	st, err := ReadStatus(pid)
	if err != nil || st.RSS < 1<<20 || st.Threads < 1 {
		t.Fatalf("ReadStatus(self) = %+v, %v; want at least 1 MiB and a thread", st, err)
	}
	fds, err := FDs(0)
	if err != nil || len(fds) < 3 {
		t.Fatalf("FDs(self) = %v, %v; want stdin, stdout and stderr at least", fds, err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	more, err := FDs(pid)
	f.Close()
	if err != nil || len(more) != len(fds)+1 {
		t.Errorf("FDs(pid) with one more file open = %v, %v; before it %v", more, err, fds)
	}
	if _, err := FDs(1 << 30); err == nil {
		t.Error("FDs of a missing pid did not fail")
	}
	mt, err := MachineTicks()
	if err != nil || mt < ticks {
		t.Errorf("MachineTicks() = %d, %v; want at least this process's %d", mt, err, ticks)
	}
	if _, err := CPUTicks(1 << 30); err == nil {
		t.Error("CPUTicks of a missing pid did not fail")
	}
	if _, err := ReadStatus(1 << 30); err == nil {
		t.Error("ReadStatus of a missing pid did not fail")
	}
}
