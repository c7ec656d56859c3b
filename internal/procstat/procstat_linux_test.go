package procstat

import (
	"os"
	"testing"
	"time"
)

// The figures come from /proc: the test's own process must read as using
// some CPU, some memory and a thread or more, and a pid that does not exist
// must fail.
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
	if _, err := CPUTicks(1 << 30); err == nil {
		t.Error("CPUTicks of a missing pid did not fail")
	}
	if _, err := ReadStatus(1 << 30); err == nil {
		t.Error("ReadStatus of a missing pid did not fail")
	}
}
