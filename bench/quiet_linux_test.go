package main

import (
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestOtherWorkSeesABusyProcess: a process spinning beside a run is other
// work, about one core's share of the machine, unless it is the server
// being measured, whose time is the run's own.
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
	if got, err := bystander.share(); err != nil || got < oneCore/2 {
		t.Errorf("a spinning bystander took %.2f of the machine (%v); want about %.2f", got, err, oneCore)
	}
	if got, err := served.share(); err != nil || got > oneCore/2 {
		t.Errorf("the spinning server itself counted as %.2f of other work (%v); want about 0", got, err)
	}
}
