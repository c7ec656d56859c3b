package linearizability

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/reactor"
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
	// IO is the cache's backend (Config.IO); "" is the default.
	IO reactor.IO
}

// kvBugName is the check of the server with a seeded bug.
const kvBugName = "kv broken server: cas ignores the unique"

// FullKVPlan is what lincheck runs: 10,240 commands from 64 clients on 8
// keys of a cache with four Workers.
func FullKVPlan() KVPlan {
	return KVPlan{Workers: 4, Clients: 64, Ops: 10240, Keys: 8, Timeout: time.Minute}
}

// KVSuite records a run of p and checks its history against KV, which must
// be linearizable, and its broken twins StaleRead and StaleCAS, which must be
// refuted; then it records a shorter run of a server with a seeded bug,
// CasIgnoresUnique, which must be refuted too. It calls report with each
// verdict. It returns an error only when a run could not be recorded, did
// not exercise every reply, or a twin could not be seeded.
func KVSuite(ctx context.Context, p KVPlan, report func(Verdict)) ([]Verdict, error) {
	h, err := RecordKV(ctx, KVSetup{Workers: p.Workers, Clients: p.Clients, Ops: p.Ops, Keys: p.Keys, Seed: 1, IO: p.IO})
	if err != nil {
		return nil, fmt.Errorf("record %d commands from %d clients: %w", p.Ops, p.Clients, err)
	}
	if missing := unexercised(h); len(missing) > 0 {
		return nil, fmt.Errorf("%d commands never gave %s: the run checked too little", len(h), strings.Join(missing, ", "))
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
	// The live bug needs no more than a quarter of the run to show.
	bugOps := min(p.Ops, max(p.Ops/4, 1024))
	bh, err := RecordKV(ctx, KVSetup{Workers: p.Workers, Clients: p.Clients, Ops: bugOps, Keys: p.Keys, Seed: 2, Wrap: CasIgnoresUnique, IO: p.IO})
	if err != nil {
		return nil, fmt.Errorf("record %d commands from %d clients of a server whose cas ignores the unique: %w", bugOps, p.Clients, err)
	}
	checks = append(checks, check{kvBugName, m, bh, clients, porcupine.Illegal})
	var out []Verdict
	for i, c := range checks {
		// The twins of a history that failed its own check would show
		// nothing, and refuting a history that already holds a defect can
		// take porcupine's whole timeout.
		if i >= 1 && i <= len(twins) && !out[0].Passed() {
			continue
		}
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

// exercised lists the replies each command must have given at least once
// for a history to test every rule of KV.
var exercised = []struct {
	cmd     KVCmd
	replies []KVReply
}{
	{KVGet, []KVReply{KVHit, KVMiss}},
	{KVGets, []KVReply{KVHit, KVMiss}},
	{KVSet, []KVReply{KVStored}},
	{KVDelete, []KVReply{KVDeleted, KVNotFound}},
	{KVAppend, []KVReply{KVStored, KVNotStored}},
	{KVCas, []KVReply{KVStored, KVExists, KVNotFound}},
	{KVIncr, []KVReply{KVNumber, KVNotFound, KVNonNumeric}},
}

// unexercised returns the "command reply" pairs of exercised that h lacks.
func unexercised(h []porcupine.Operation) []string {
	seen := map[[2]uint8]bool{}
	for _, op := range h {
		seen[[2]uint8{uint8(op.Input.(KVInput).Cmd), uint8(op.Output.(KVOutput).Reply)}] = true
	}
	var missing []string
	for _, e := range exercised {
		for _, r := range e.replies {
			if !seen[[2]uint8{uint8(e.cmd), uint8(r)}] {
				missing = append(missing, e.cmd.String()+" "+r.String())
			}
		}
	}
	return missing
}
