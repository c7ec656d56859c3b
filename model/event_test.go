package model

import "testing"

// Every kind of event, with every field it carries, reads back as what
// Event.String wrote, and the vocabulary's names are all distinct.
func TestEventRoundTrip(t *testing.T) {
	evs := []Event{
		{Kind: Accept, Acceptor: 1, Worker: -1, Conn: 7, Fd: 9},
		{Kind: Register, Acceptor: -1, Worker: 2, Conn: 7, Fd: 9, Gen: 3},
		{Kind: Close, Acceptor: -1, Worker: 2, Conn: 7, Fd: 9, Gen: 3, Why: CauseEOF},
		{Kind: Ready, Acceptor: -1, Worker: 2, Conn: 7, Fd: 9, Gen: 3},
		{Kind: Read, Acceptor: -1, Worker: 2, Conn: 7, N: 0},
		{Kind: Read, Acceptor: -1, Worker: 2, Conn: 7, N: 12},
		{Kind: Data, Acceptor: -1, Worker: 2, Conn: 7, N: 12, Consumed: 0},
		{Kind: Data, Acceptor: -1, Worker: 2, Conn: 7, N: 12, Consumed: 5},
		{Kind: Write, Acceptor: -1, Worker: 2, Conn: 7, N: 4},
		{Kind: Send, Acceptor: -1, Worker: 2, Conn: 7, N: 3},
		{Kind: Submit, Acceptor: -1, Worker: 2, Conn: 7, Gen: 3, N: 0},
		{Kind: Submit, Acceptor: -1, Worker: 2, Conn: 7, Gen: 3, N: 8},
		{Kind: Kick, Acceptor: -1, Worker: 2, Conn: -1},
		{Kind: Tasks, Acceptor: -1, Worker: 2, Conn: -1, N: 2},
		{Kind: Run, Acceptor: -1, Worker: 2, Conn: 7, Gen: 3},
		{Kind: Drop, Acceptor: 0, Worker: -1, Conn: -1, Fd: 9, Why: CauseMaxConns},
		{Kind: Drop, Acceptor: -1, Worker: 1, Conn: 4, Fd: 9, Why: CauseEpoll},
		{Kind: Stop, Acceptor: -1, Worker: -1, Conn: -1},
		{Kind: Done, Acceptor: -1, Worker: -1, Conn: -1},
	}
	for _, e := range evs {
		got, err := ParseEvent(e.String())
		if err != nil || got != e {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", e.String(), got, err, e)
		}
	}
	seen := map[string]bool{}
	for k := Accept; k <= Done; k++ {
		name := k.String()
		if seen[name] || name == "" || name[0] < 'A' || name[0] > 'Z' {
			t.Errorf("kind %d has name %q", k, name)
		}
		seen[name] = true
	}
	for c := CauseHandler; c <= CauseMaxConns; c++ {
		back, err := parseCause(c.String())
		if err != nil || back != c {
			t.Errorf("cause %d: %q reads back as %v, %v", c, c.String(), back, err)
		}
	}
}

// A trace line written before the lifecycle fields existed reads as it did:
// the new fields take their "not given" value, and the line prints back
// unchanged.
func TestEventOldLinesUnchanged(t *testing.T) {
	for _, line := range []string{
		"Accept a=0 c=3", "Dispatch a=1 w=0 c=3", "Notify a=0 w=1", "Wake w=1 n=2",
		"Pop w=1 c=3", "Register w=1 c=3", "Close w=1 c=3",
	} {
		e, err := ParseEvent(line)
		if err != nil {
			t.Fatal(err)
		}
		if e.Fd != 0 || e.Gen != 0 || e.Why != CauseNone || e.Consumed != 0 {
			t.Errorf("%q: new fields set: %+v", line, e)
		}
		if e.String() != line {
			t.Errorf("%q prints back as %q", line, e.String())
		}
	}
	for _, bad := range []string{"Close w=1 c=3 why=later", "Register w=1 c=3 g=-1", "Read w=1 c=3 n"} {
		if _, err := ParseEvent(bad); err == nil {
			t.Errorf("ParseEvent(%q): no error", bad)
		}
	}
}
