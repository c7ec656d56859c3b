package linearizability

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/race"
)

// testPlan is FullPlan made small enough for go test: the full 10,240
// operations without the race detector, fewer with it or with -short (the
// detector slows the clients and the server several times over).
func testPlan() Plan {
	p := FullPlan()
	p.Timeout = 10 * time.Second
	p.IO = reactortest.IO()
	// p.Dir stays the temp dir, not t.TempDir: a failed check's
	// visualization must outlive the test that reports its path.
	if race.Enabled || testing.Short() {
		p.Clients, p.Ops, p.AcceptorOps = 32, 4096, 2048
	}
	return p
}

// TestSuite records a server's histories and checks them: P2 round-robin
// over one Acceptor and over 2, 3 and 4 Acceptors sharing the counter, and
// P1 exactly-once with P3 per-worker FIFO on every Worker's queue
// (spec/SPEC.md) must be linearizable, and every broken twin must be
// refuted. Unknown fails like Illegal.
func TestSuite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	verdicts, err := Suite(ctx, testPlan(), func(v Verdict) { t.Log(v) })
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
	if want := 2 + 1 + 2; twins != want {
		t.Errorf("%d broken twins checked, want %d", twins, want)
	}
}

// TestVisualizationOfAFailure checks that a failed check leaves porcupine's
// visualization where it says: a history in which the second connect
// reports worker 0 again (P2 round-robin) is refuted and rendered.
func TestVisualizationOfAFailure(t *testing.T) {
	h := []porcupine.Operation{
		{ClientId: 0, Call: 0, Return: 10, Output: Connect{Worker: 0, Conn: 0}},
		{ClientId: 1, Call: 5, Return: 20, Output: Connect{Worker: 0, Conn: 1}},
		{ClientId: 0, Call: 30, Return: 40, Output: Connect{Worker: 0, Conn: 2}},
	}
	m := RoundRobin(2)
	r := Check("tiny", m, h, "2 clients", time.Second)
	if r.Outcome != porcupine.Illegal {
		t.Fatalf("outcome %v, want Illegal", r.Outcome)
	}
	path, err := Visualize("tiny", m, h, time.Second, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<html") || !strings.Contains(string(b), "w0 c1") {
		t.Errorf("%s does not render the history", path)
	}
	v := Verdict{Result: r, Want: porcupine.Ok}
	v.Visualization = path
	if v.Passed() || !strings.Contains(v.String(), path) || !strings.Contains(v.String(), "FAIL") {
		t.Errorf("verdict line %q does not report the failure and the path", v)
	}
}

// TestUnknownIsAFailure checks that a search cut short by its timeout does
// not pass, using the Worker-only specification of round-robin (without the
// sequence number) on a wrong history under 32-way concurrency: the search
// that would refute it does not end in time, which is why RoundRobin
// carries the number.
func TestUnknownIsAFailure(t *testing.T) {
	const n, clients, ops = 4, 32, 1024
	var h []porcupine.Operation
	// Waves of 32 overlapping connects, each wave after the previous one.
	for k := range ops {
		wave := int64(k / clients)
		h = append(h, porcupine.Operation{ClientId: k % clients, Call: 100 * wave, Return: 100*wave + 50,
			Output: Connect{Worker: k % n, Conn: int64(k)}})
	}
	broken, ok := SwappedWorker(h, n)
	if !ok {
		t.Fatal("no twin")
	}
	workerOnly := porcupine.Model{
		Init: func() any { return 0 },
		Step: func(state, _, output any) (bool, any) {
			if output.(Connect).Worker != state.(int) {
				return false, state
			}
			return true, (state.(int) + 1) % n
		},
	}
	v := Verdict{Result: Check("worker-only", workerOnly, broken, "32 clients", 200*time.Millisecond), Want: porcupine.Illegal}
	t.Log(v)
	if v.Outcome == porcupine.Ok {
		t.Fatal("a history with a swapped worker id was found linearizable")
	}
	if v.Outcome == porcupine.Unknown && v.Passed() {
		t.Fatal("an Unknown outcome passed")
	}
	if r := Check("round-robin", RoundRobin(n), broken, "32 clients", 10*time.Second); r.Outcome != porcupine.Illegal {
		t.Fatalf("RoundRobin: %v, want Illegal", r)
	}
}
