package reactor

import (
	"flag"
	"slices"
	"testing"
	"time"

	"github.com/handoffd/handoff/internal/race"
)

var (
	simSeed = flag.Uint64("sim.seed", 0, "run the simulation of this seed alone, and print its actions")
	simRuns = flag.Int("sim.runs", 20000, "simulated runs, seeds 1 and up")
)

// TestSimulation runs the real Acceptors and Workers on the simulated
// kernel under simRuns seeds, each an order of actions, a system and a set
// of injected faults (sim_test.go), and checks every run against P1–P10 as
// the handler, the peers and the kernel saw it (sim_props_test.go). A
// failure prints the seed, the command that replays it alone, and the run's
// last actions. Every tenth seed is run twice and must give the same trace
// and the same actions: a run is a function of its seed.
func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		sm := runSim(t, *simSeed)
		t.Logf("%s", sm.report())
		if len(sm.problems) > 0 {
			t.Fail()
		}
		return
	}
	runs := *simRuns
	if race.Enabled {
		runs /= 4 // the race detector slows each run several times over
	}
	start := time.Now()
	failed := 0
	for seed := uint64(1); seed <= uint64(runs); seed++ {
		sm := runSim(t, seed)
		if len(sm.problems) > 0 {
			failed++
			if failed <= 3 {
				t.Errorf("%s", sm.report())
			}
			if failed == 20 {
				t.Errorf("stopped at seed %d after %d failed runs", seed, failed)
				break
			}
			continue
		}
		if seed%10 == 0 {
			again := runSim(t, seed)
			if !slices.Equal(again.log, sm.log) || !slices.Equal(again.trace.Events(), sm.trace.Events()) {
				t.Errorf("seed %d is not deterministic: two runs took different actions or traced different events", seed)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d simulated runs failed", failed, runs)
	}
	t.Logf("%d simulated runs in %v", runs, time.Since(start).Round(time.Millisecond))
}

// runSim makes and runs the simulation of seed, and checks its end.
func runSim(t *testing.T, seed uint64) *sim {
	t.Helper()
	sm, err := newSim(seed)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				sm.problem("the reactor panicked: %v", r)
			}
		}()
		sm.run()
	}()
	sm.checkEnd()
	return sm
}
