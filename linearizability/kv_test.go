package linearizability

import (
	"context"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// testKVPlan is FullKVPlan made small enough for go test.
func testKVPlan() KVPlan {
	p := FullKVPlan()
	p.Timeout = 30 * time.Second
	if raceEnabled || testing.Short() {
		p.Clients, p.Ops = 32, 2048
	}
	return p
}

// TestKV: the cache's commands as real clients see them are linearizable
// (DESIGN.md §4), and both broken twins are refuted.
func TestKV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	verdicts, err := KVSuite(ctx, testKVPlan(), func(v Verdict) { t.Log(v) })
	if err != nil {
		t.Fatal(err)
	}
	twins := 0
	for _, v := range verdicts {
		if !v.Passed() {
			t.Errorf("%v", v)
		}
		if v.Want == porcupine.Illegal {
			twins++
		}
	}
	if twins != 2 {
		t.Errorf("%d broken twins checked, want 2", twins)
	}
}
