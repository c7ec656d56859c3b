package model

import "testing"

// P1–P4 (spec/SPEC.md) hold for msgring only if the search reaches what
// its kernel can do: some run posts into the CQ,
// holds a completion back in the overflow list and moves it in on the next
// enter, fails a MSG_RING with EOVERFLOW and retries it, and ends a
// multishot accept that is then re-armed. A check that never took these
// steps would pass a design that mishandles them.
func TestMsgringReachesEveryKernelCase(t *testing.T) {
	d := mustDesign(t, "msgring")
	// One Worker that gets all three connections: the smallest system in
	// which each case is reachable, so the search is quick under -race.
	m, err := NewMachine(d, Bounds{Workers: 1, Conns: 3, Acceptors: 1, PipeCap: 1, Overflow: 1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	reached := map[string]bool{}
	level := []State{m.Initial()}
	seen[level[0].Key()] = true
	for len(level) > 0 {
		var next []State
		for _, s := range level {
			for _, tr := range m.Steps(s) {
				st := tr.Step
				switch {
				case st.Part == PartSubmit && len(s.Acceptors[st.Event.Acceptor].Retry) > 0 && s.Acceptors[st.Event.Acceptor].PC == AIdle:
					reached["retried post"] = true
				case st.Event.Kind == Dispatch && st.Part == "" && st.Note == "":
					reached["post into the CQ"] = true
				case st.Event.Kind == Dispatch && st.Part == "":
					reached["held back in the overflow list"] = true
				case st.Part == PartOverflow:
					reached["EOVERFLOW"] = true
				case st.Event.Kind == Wake && len(s.Workers[st.Event.Worker].Queue) > s.Workers[st.Event.Worker].CQ:
					reached["moved in on enter"] = true
				case st.Part == PartEnd:
					reached["multishot ended"] = true
				case st.Part == PartRearm:
					reached["re-armed"] = true
				}
				if tr.Violation != nil {
					t.Fatalf("%s: %v", st, tr.Violation)
				}
				if k := tr.Next.Key(); !seen[k] {
					seen[k] = true
					next = append(next, tr.Next)
				}
			}
		}
		level = next
	}
	for _, want := range []string{"post into the CQ", "held back in the overflow list", "EOVERFLOW",
		"retried post", "moved in on enter", "multishot ended", "re-armed"} {
		if !reached[want] {
			t.Errorf("no run reaches %q in %d states", want, len(seen))
		}
	}
}

// The broken twins of the check above (spec/SPEC.md, P1 and P4): the same
// search refutes msgring with its failed MSG_RING ignored, and with its
// multishot accept left ended, with two Acceptors and a kernel that holds
// nothing back, not only at the small bounds the bug designs default to.
func TestMsgringBugsRefutedAtMsgringBounds(t *testing.T) {
	b := Bounds{Workers: 1, Conns: 3, Acceptors: 2, PipeCap: 1}
	for name, want := range map[string]Property{"bug-msgring-ignore-full": P1, "bug-multishot-not-rearmed": P4} {
		r, err := Explore(mustDesign(t, name), b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Violation == nil || r.Violation.Property != want {
			t.Errorf("%s at %s: %v, want %s violated", name, b, r.Violation, want)
		}
	}
}
