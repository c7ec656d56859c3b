package linearizability

import (
	"bufio"
	"context"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/internal/race"
)

// testKVPlan is FullKVPlan made small enough for go test: lincheck's
// 10,240 commands from 32 clients instead of 64 (the search over 64
// overlapping clients takes seconds, over 32 milliseconds), and 4,096 under
// the race detector or -short.
func testKVPlan() KVPlan {
	p := FullKVPlan()
	p.IO = reactortest.IO()
	p.Timeout = 10 * time.Second
	p.Clients = 32
	if race.Enabled || testing.Short() {
		p.Ops = 4096
	}
	return p
}

// TestKV records the cache under 32 clients over TCP: the history must be
// linearizable against KV (spec/DESIGN.md §4: the cache's semantics are
// linearizable under concurrent clients), the two broken twins and the
// history of a server whose cas ignores the unique must be refuted, and the
// run must have exercised every reply (KVSuite refuses a run that did not).
func TestKV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := testKVPlan()
	verdicts, err := KVSuite(ctx, p, func(v Verdict) { t.Log(v) })
	if err != nil {
		t.Fatal(err)
	}
	twins := 0
	for _, v := range verdicts {
		if !v.Passed() {
			t.Errorf("%v", v)
		}
		if v.Ops != p.Ops && v.Name != kvBugName {
			t.Errorf("%s: %d operations, want %d", v.Name, v.Ops, p.Ops)
		}
		if v.Want == porcupine.Illegal {
			twins++
		}
	}
	if twins != 3 {
		t.Errorf("%d broken twins checked, want 3", twins)
	}
}

// TestKVRefutesCasIgnoringUnique: a live server whose cas ignores the
// unique gives a history KV refutes, and the failed check leaves
// porcupine's visualization where its verdict says.
func TestKVRefutesCasIgnoringUnique(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := KVSetup{Workers: 4, Clients: 32, Ops: 1024, Keys: 8, Seed: 2,
		Wrap: CasIgnoresUnique, IO: reactortest.IO()}
	h, err := RecordKV(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	v := verdictOf(check{"kv cas ignores unique", KV(), h, "32 clients", porcupine.Ok}, 30*time.Second, dir)
	t.Logf("the seeded bug's verdict: %v", v)
	if v.Outcome != porcupine.Illegal {
		t.Fatalf("outcome %v, want Illegal", v.Outcome)
	}
	if v.Visualization == "" || !strings.Contains(v.String(), v.Visualization) {
		t.Fatalf("verdict %q names no visualization (%v)", v, v.VisualizationErr)
	}
	b, err := os.ReadFile(v.Visualization)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<html") || !strings.Contains(string(b), "cas(k") {
		t.Errorf("%s does not render the history", v.Visualization)
	}
}

// TestKVEvents checks the same history as events, through PartitionEvent:
// a recorded history is linearizable and its stale-read twin is not.
func TestKVEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, err := RecordKV(ctx, KVSetup{Workers: 2, Clients: 32, Ops: 512, Keys: 4, Seed: 3, IO: reactortest.IO()})
	if err != nil {
		t.Fatal(err)
	}
	if got := porcupine.CheckEventsTimeout(KV(), toEvents(h), 30*time.Second); got != porcupine.Ok {
		t.Errorf("recorded history as events: %v, want Ok", got)
	}
	broken, ok := StaleRead(h)
	if !ok {
		t.Fatal("no stale-read twin")
	}
	if got := porcupine.CheckEventsTimeout(KV(), toEvents(broken), 30*time.Second); got != porcupine.Illegal {
		t.Errorf("stale-read twin as events: %v, want Illegal", got)
	}
}

// toEvents turns operations into call and return events in time order, a
// call before a return at the same instant (intervals are closed).
func toEvents(h []porcupine.Operation) []porcupine.Event {
	type stamp struct {
		at  int64
		ret bool
		op  int
	}
	var st []stamp
	for i, op := range h {
		st = append(st, stamp{op.Call, false, i}, stamp{op.Return, true, i})
	}
	slices.SortStableFunc(st, func(a, b stamp) int {
		switch {
		case a.at != b.at:
			return int(a.at - b.at)
		case a.ret == b.ret:
			return 0
		case a.ret:
			return 1
		}
		return -1
	})
	ev := make([]porcupine.Event, 0, len(st))
	for _, s := range st {
		op := h[s.op]
		if s.ret {
			ev = append(ev, porcupine.Event{ClientId: op.ClientId, Kind: porcupine.ReturnEvent, Value: op.Output, Id: s.op})
		} else {
			ev = append(ev, porcupine.Event{ClientId: op.ClientId, Kind: porcupine.CallEvent, Value: op.Input, Id: s.op})
		}
	}
	return ev
}

// TestKVReplyParsing: the recorder accepts the replies the protocol allows
// each command and fails on anything else, so a protocol error is reported
// as one and never reaches the specification as a wrong answer.
func TestKVReplyParsing(t *testing.T) {
	get := KVInput{Cmd: KVGet, Key: "k0"}
	gets := KVInput{Cmd: KVGets, Key: "k0"}
	set := KVInput{Cmd: KVSet, Key: "k0", Value: "100001"}
	incr := KVInput{Cmd: KVIncr, Key: "k0", Delta: 1}
	cases := []struct {
		in    KVInput
		reply string
		want  KVOutput // ignored when err
		err   bool
	}{
		{get, "END\r\n", KVOutput{Reply: KVMiss}, false},
		{get, "VALUE k0 0 6\r\n100001\r\nEND\r\n", KVOutput{Reply: KVHit, Value: "100001"}, false},
		{gets, "VALUE k0 0 6 12\r\n100001\r\nEND\r\n", KVOutput{Reply: KVHit, Value: "100001", Unique: 12}, false},
		{get, "VALUE k0 0 6 12\r\n100001\r\nEND\r\n", KVOutput{}, true},
		{gets, "VALUE k0 0 6\r\n100001\r\nEND\r\n", KVOutput{}, true},
		{get, "VALUE k1 0 6\r\n100001\r\nEND\r\n", KVOutput{}, true},
		{get, "VALUE k0 0 6\r\n1000011\r\nEND\r\n", KVOutput{}, true},
		{get, "VALUE k0 0 6\r\n100001\r\n", KVOutput{}, true},
		{get, "VALUE k0 0 99999999\r\n", KVOutput{}, true},
		{get, "STORED\r\n", KVOutput{}, true},
		{set, "STORED\r\n", KVOutput{Reply: KVStored}, false},
		{set, "STORED\n", KVOutput{}, true},
		{set, "SERVER_ERROR out of memory storing object\r\n", KVOutput{}, true},
		{KVInput{Cmd: KVDelete, Key: "k0"}, "DELETED\r\n", KVOutput{Reply: KVDeleted}, false},
		{KVInput{Cmd: KVCas, Key: "k0", Value: "100002", Unique: 3}, "EXISTS\r\n", KVOutput{Reply: KVExists}, false},
		{incr, "100002\r\n", KVOutput{Reply: KVNumber, Value: "100002"}, false},
		{incr, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", KVOutput{Reply: KVNonNumeric}, false},
		{incr, "NOT_FOUND\r\n", KVOutput{Reply: KVNotFound}, false},
		{incr, "-1\r\n", KVOutput{}, true},
	}
	for _, c := range cases {
		got, err := kvReadReply(bufio.NewReader(strings.NewReader(c.reply)), c.in)
		switch {
		case c.err && err == nil:
			t.Errorf("%s %q: got %+v, want an error", c.in.Cmd, c.reply, got)
		case !c.err && err != nil:
			t.Errorf("%s %q: %v", c.in.Cmd, c.reply, err)
		case !c.err && got != c.want:
			t.Errorf("%s %q: got %+v, want %+v", c.in.Cmd, c.reply, got, c.want)
		}
	}
}
