package model

import (
	"slices"
	"strings"
	"testing"
)

// goodTrace is a finished run of conns connections over n Workers, each
// accepted, dispatched round-robin, notified, popped, registered and closed.
func goodTrace(n, conns int) []Event {
	var tr []Event
	for c := range int64(conns) {
		w := int(c) % n
		tr = append(tr,
			Event{Kind: Accept, Acceptor: 0, Worker: -1, Conn: c},
			Event{Kind: Dispatch, Acceptor: 0, Worker: w, Conn: c},
			Event{Kind: Notify, Acceptor: 0, Worker: w, Conn: -1},
			Event{Kind: Wake, Acceptor: -1, Worker: w, Conn: -1, N: 1},
			Event{Kind: Pop, Acceptor: -1, Worker: w, Conn: c},
			Event{Kind: Register, Acceptor: -1, Worker: w, Conn: c},
			Event{Kind: Close, Acceptor: -1, Worker: w, Conn: c})
	}
	return tr
}

// TestCheckTraceRefutesSeededTraces shows CheckTrace, which the reactor's
// load tests and the fuzz targets assert P1–P3 with, accepting a good trace
// and refusing each of its broken twins by the property the defect breaks
// (spec/SPEC.md).
func TestCheckTraceRefutesSeededTraces(t *testing.T) {
	const n, conns = 3, 9
	good := goodTrace(n, conns)
	var clients []Served
	for c := range int64(conns) {
		clients = append(clients, Served{Conn: c, Worker: int(c) % n})
	}
	check := TraceCheck{Workers: n, RoundRobin: true, Closed: true, Clients: clients}
	if err := CheckTrace(good, check); err != nil {
		t.Fatalf("the good trace was refused: %v", err)
	}
	index := func(tr []Event, k Kind, c int64) int {
		return slices.IndexFunc(tr, func(e Event) bool { return e.Kind == k && e.Conn == c })
	}
	// moved: conn 4 dispatched to, popped and registered by worker 2, not 1.
	moved := slices.Clone(good)
	for i := range moved {
		if moved[i].Conn == 4 && moved[i].Worker >= 0 {
			moved[i].Worker = 2
		}
	}
	swapped := slices.Clone(good)
	i, j := index(swapped, Register, 0), index(swapped, Register, 3)
	swapped[i].Conn, swapped[j].Conn = swapped[j].Conn, swapped[i].Conn
	liar := slices.Clone(clients)
	liar[0].Worker = 1
	twins := []struct {
		name, want string
		tr         []Event
		clients    []Served
	}{
		{"registered twice", "P1", append(slices.Clone(good), good[index(good, Register, 5)]), clients},
		{"a registration lost", "P1", slices.Delete(slices.Clone(good), index(good, Register, 7), index(good, Register, 7)+1), clients},
		{"popped by another worker", "P1", func() []Event {
			tr := slices.Clone(good)
			tr[index(tr, Pop, 2)].Worker = 0
			return tr
		}(), clients},
		{"an accept number skipped", "P1", func() []Event {
			tr := slices.Clone(good)
			for i := range tr {
				if tr[i].Conn == 8 {
					tr[i].Conn = 9
				}
			}
			return tr
		}(), clients},
		{"never closed", "P1", slices.Delete(slices.Clone(good), index(good, Close, 1), index(good, Close, 1)+1), clients},
		{"a client served by the wrong worker", "P1", good, liar},
		{"a client too many", "P1", good, append(slices.Clone(clients), Served{Conn: 3, Worker: 0})},
		{"dispatched off the rotation", "P2", moved, nil},
		{"registered out of dispatch order", "P3", swapped, clients},
	}
	for _, tw := range twins {
		c := check
		c.Clients = tw.clients
		err := CheckTrace(tw.tr, c)
		if err == nil {
			t.Errorf("%s: accepted", tw.name)
		} else if !strings.HasPrefix(err.Error(), tw.want) {
			t.Errorf("%s: refused as %q, want a %s violation", tw.name, err, tw.want)
		}
	}
}

// TestDesignOf pins the one map from the reactor's notify × wake-up
// combinations to the model's designs, and its refusals.
func TestDesignOf(t *testing.T) {
	for _, c := range []struct{ notify, wakeup, want string }{
		{"pipe", "per-conn", "memcached"},
		{"eventfd", "per-conn", "eventfd"},
		{"pipe", "coalesced", "coalesced"},
		{"eventfd", "coalesced", "coalesced"},
		{"msgring", "per-conn", "msgring"},
		{"msgring", "coalesced", "msgring"},
		{"", "per-conn", ""},
		{"pipe", "", ""},
		{"smoke", "coalesced", ""},
	} {
		d, err := DesignOf(c.notify, c.wakeup)
		if got := d.Name; got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("DesignOf(%q, %q) = %q, %v; want %q", c.notify, c.wakeup, got, err, c.want)
		}
	}
}
