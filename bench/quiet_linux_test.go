package main

import (
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestOtherWorkSeesABusyProcess: a process spinning beside a run is other
// work, about one core's share of the machine, unless it is the server
// being measured, whose time is the run's own. The two measures cover the
// same window, so whatever else the machine runs meanwhile (other test
// packages) counts in both, and their difference is the spinner's share.
func TestOtherWorkSeesABusyProcess(t *testing.T) {
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { spin.Process.Kill(); spin.Wait() }()
	time.Sleep(50 * time.Millisecond)
	bystander, err := startOther(0)
	if err != nil {
		t.Fatal(err)
	}
	served, err := startOther(spin.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	oneCore := 1 / float64(runtime.NumCPU())
	by, err1 := bystander.share()
	sv, err2 := served.share()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if by-sv < oneCore/2 {
		t.Errorf("a spinning bystander counted as %.2f of the machine, the same process as the server %.2f: want a core's share (%.2f) between them", by, sv, oneCore)
	}
}
