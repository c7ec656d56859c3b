package reactor

import "github.com/handoffd/handoff/model"

// tracer is Config.Trace. Its methods are called at each step's
// linearization point (see model.Kind); with no Config.Trace each costs one
// nil check.
type tracer func(model.Event)

func (t tracer) accept(a int, c uint64) {
	if t != nil {
		t(model.Event{Kind: model.Accept, Acceptor: a, Worker: -1, Conn: int64(c)})
	}
}

// dispatch must be called with the Worker's queue lock held.
func (t tracer) dispatch(a, w int, c uint64) {
	if t != nil {
		t(model.Event{Kind: model.Dispatch, Acceptor: a, Worker: w, Conn: int64(c)})
	}
}

// notify must be called just before the token's write.
func (t tracer) notify(a, w int) {
	if t != nil {
		t(model.Event{Kind: model.Notify, Acceptor: a, Worker: w, Conn: -1})
	}
}

func (t tracer) wake(w, n int) {
	if t != nil {
		t(model.Event{Kind: model.Wake, Acceptor: -1, Worker: w, Conn: -1, N: n})
	}
}

// pop must be called with the Worker's queue lock held.
func (t tracer) pop(w int, c uint64) {
	if t != nil {
		t(model.Event{Kind: model.Pop, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}

func (t tracer) register(w int, c uint64) {
	if t != nil {
		t(model.Event{Kind: model.Register, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}

// close must be called after OnClose, just before close(2).
func (t tracer) close(w int, c uint64) {
	if t != nil {
		t(model.Event{Kind: model.Close, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}
