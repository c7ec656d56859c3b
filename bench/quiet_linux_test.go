package main

import (
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/handoffd/handoff/internal/procstat"
)

// TestOtherWorkSeesABusyProcess: a process spinning beside a run is other
// work, unless it is the server being measured, whose time is the run's own.
// The two measures cover the same window, so whatever else the machine runs
// meanwhile (other test packages) counts in both, and their difference must
// be the spinner's own share of the machine, read from its /proc/PID/stat:
// about a core's on a quiet machine, less on a loaded one, where the
// scheduler gives it less.
func TestOtherWorkSeesABusyProcess(t *testing.T) {
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }()
	time.Sleep(50 * time.Millisecond)
	spun0, err := procstat.CPUTicks(spin.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bystander, err := startOther(0)
	if err != nil {
		t.Fatal(err)
	}
	served, err := startOther(spin.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	by, err1 := bystander.share()
	sv, err2 := served.share()
	spun1, err3 := procstat.CPUTicks(spin.Process.Pid)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	capacity := time.Since(start).Seconds() * float64(runtime.NumCPU()) * procstat.TicksPerSecond
	spun := float64(spun1-spun0) / capacity
	if spun < 0.05 {
		t.Skipf("the spinner got %.2f of the machine: too busy to tell its share from the clock's granularity", spun)
	}
	// Ticks are 10 ms: over half a second of 2 cores one is 0.01, and the
	// samples of the three figures are taken a moment apart.
	if d := (by - sv) - spun; d < -0.1 || d > 0.1 {
		t.Errorf("a spinning bystander counted as %.2f of the machine, the same process as the server %.2f: their difference %.2f, want the spinner's own share %.2f", by, sv, by-sv, spun)
	}
}
