package linearizability

import (
	"context"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
)

// KVPlan sizes the kv check.
type KVPlan struct {
	// Workers is the cache's reactor Workers.
	Workers int
	// Clients, Ops and Keys size the load (KVSetup).
	Clients, Ops, Keys int
	// Timeout bounds each porcupine search.
	Timeout time.Duration
	// Dir receives the visualizations of failed checks; "" is os.TempDir().
	Dir string
}

// FullKVPlan is what lincheck runs: 10,240 commands from 64 clients on 8
// keys of a cache with four Workers.
func FullKVPlan() KVPlan {
	return KVPlan{Workers: 4, Clients: 64, Ops: 10240, Keys: 8, Timeout: time.Minute}
}

// KVSuite records a run of p and checks its history against KV, which must
// be linearizable, and its broken twins StaleRead and StaleCAS, which must be
// refuted, calling report with each verdict as it is reached. It returns an
// error only when the run could not be recorded or a twin not seeded.
func KVSuite(ctx context.Context, p KVPlan, report func(Verdict)) ([]Verdict, error) {
	h, err := RecordKV(ctx, KVSetup{Workers: p.Workers, Clients: p.Clients, Ops: p.Ops, Keys: p.Keys, Seed: 1})
	if err != nil {
		return nil, fmt.Errorf("record %d commands from %d clients: %w", p.Ops, p.Clients, err)
	}
	m := KV()
	clients := fmt.Sprintf("%d clients", p.Clients)
	checks := []check{{"kv", m, h, clients, porcupine.Ok}}
	twins := []struct {
		name string
		seed func([]porcupine.Operation) ([]porcupine.Operation, bool)
	}{
		{"kv broken: a stale read", StaleRead},
		{"kv broken: cas with a stale unique stored", StaleCAS},
	}
	for _, t := range twins {
		bh, ok := t.seed(h)
		if !ok {
			return nil, fmt.Errorf("%s: history too small to seed the defect", t.name)
		}
		checks = append(checks, check{t.name, m, bh, clients, porcupine.Illegal})
	}
	var out []Verdict
	for _, c := range checks {
		v := verdictOf(c, p.Timeout, p.Dir)
		out = append(out, v)
		if report != nil {
			report(v)
		}
	}
	return out, nil
}

// verdictOf checks c and, when the verdict is not the one c must get,
// writes porcupine's visualization into dir.
func verdictOf(c check, timeout time.Duration, dir string) Verdict {
	v := Verdict{Result: Check(c.name, c.model, c.history, c.parties, timeout), Want: c.want}
	if !v.Passed() {
		v.Visualization, v.VisualizationErr = Visualize(c.name, c.model, c.history, timeout, dir)
	}
	return v
}
