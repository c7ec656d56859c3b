package model

import (
	"encoding/binary"
	"errors"
)

// The explorer's visited set is keyed by a state's encoding: a compact byte
// string that two states share exactly when they are equal, so the set needs
// no hashing scheme of its own and never confuses two states. Every number is
// a uvarint (small numbers take one byte); a field that may be -1 is stored
// plus one. The layout follows the State fields in order; the number of
// Acceptors and Workers is not stored, since a Machine fixes it.

// Key returns s's encoding as a string, usable as a map key.
func (s State) Key() string { return string(s.appendKey(nil)) }

func (s *State) appendKey(b []byte) []byte {
	u := func(v int64) { b = binary.AppendUvarint(b, uint64(v)) }
	flag := func(f bool) {
		if f {
			u(1)
		} else {
			u(0)
		}
	}
	list := func(q []int64) {
		u(int64(len(q)))
		for _, c := range q {
			u(c)
		}
	}
	for _, a := range s.Acceptors {
		u(int64(a.PC))
		u(a.Conn + 1)
		u(int64(a.Worker) + 1)
		list(a.Stale)
		flag(a.Disarmed)
		u(int64(a.Ends))
		list(a.Posting)
		list(a.Retry)
	}
	u(s.Seq)
	u(s.Next)
	for _, w := range s.Workers {
		u(int64(w.PC))
		list(w.Queue)
		u(int64(w.Tokens))
		flag(w.Flag)
		u(int64(w.Pending))
		u(w.Conn + 1)
		list(w.Stale)
		u(int64(w.CQ))
		flag(w.MayIdle)
		u(int64(w.Registered))
		u(int64(w.Dispatched))
		u(int64(w.LastOrd))
	}
	flag(s.Conns != nil)
	for _, g := range s.Conns {
		u(int64(g.Worker) + 1)
		u(int64(g.Ord))
		u(int64(g.Handed))
		u(int64(g.HandedTo) + 1)
		flag(g.Registered)
	}
	return b
}

var errKey = errors.New("model: malformed state key")

// decodeKey is the inverse of appendKey for a system of the given size.
func decodeKey(b []byte, acceptors, workers int) (State, error) {
	bad := false
	u := func() int64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return int64(v)
	}
	list := func() []int64 {
		n := u()
		if n == 0 || bad || n > int64(len(b)) {
			bad = bad || n > int64(len(b))
			return nil
		}
		q := make([]int64, n)
		for i := range q {
			q[i] = u()
		}
		return q
	}
	var s State
	s.Acceptors = make([]Acceptor, acceptors)
	for i := range s.Acceptors {
		a := &s.Acceptors[i]
		a.PC = APC(u())
		a.Conn = u() - 1
		a.Worker = int(u()) - 1
		a.Stale = list()
		a.Disarmed = u() == 1
		a.Ends = int(u())
		a.Posting = list()
		a.Retry = list()
	}
	s.Seq = u()
	s.Next = u()
	s.Workers = make([]Worker, workers)
	for i := range s.Workers {
		w := &s.Workers[i]
		w.PC = WPC(u())
		w.Queue = list()
		w.Tokens = int(u())
		w.Flag = u() == 1
		w.Pending = int(u())
		w.Conn = u() - 1
		w.Stale = list()
		w.CQ = int(u())
		w.MayIdle = u() == 1
		w.Registered = int(u())
		w.Dispatched = int(u())
		w.LastOrd = int(u())
	}
	if u() == 1 {
		if s.Next > int64(len(b)) {
			return State{}, errKey
		}
		s.Conns = make([]ConnGhost, s.Next)
		for i := range s.Conns {
			g := &s.Conns[i]
			g.Worker = int(u()) - 1
			g.Ord = int(u())
			g.Handed = int(u())
			g.HandedTo = int(u()) - 1
			g.Registered = u() == 1
		}
	}
	if bad || len(b) != 0 {
		return State{}, errKey
	}
	return s, nil
}
