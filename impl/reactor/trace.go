package reactor

import "github.com/handoffd/handoff/model"

// tracer is Config.Trace. Its methods are called at each step's
// linearization point, as model.Kind's documentation places it; with no
// Config.Trace each costs one nil check.
type tracer func(model.Event)

// emit sends e with the fields that do not apply set to "does not apply".
func (t tracer) emit(k model.Kind, a, w int, c int64, e model.Event) {
	e.Kind, e.Acceptor, e.Worker, e.Conn = k, a, w, c
	t(e)
}

func (t tracer) accept(a int, c uint64, fd int) {
	if t != nil {
		t.emit(model.Accept, a, -1, int64(c), model.Event{Fd: fd})
	}
}

// dispatch must be called with the Worker's queue lock held.
func (t tracer) dispatch(a, w int, c uint64) {
	if t != nil {
		t.emit(model.Dispatch, a, w, int64(c), model.Event{})
	}
}

// notify must be called just before the token's write.
func (t tracer) notify(a, w int) {
	if t != nil {
		t.emit(model.Notify, a, w, -1, model.Event{})
	}
}

func (t tracer) wake(w, n int) {
	if t != nil {
		t.emit(model.Wake, -1, w, -1, model.Event{N: n})
	}
}

// pop must be called with the Worker's queue lock held.
func (t tracer) pop(w int, c uint64) {
	if t != nil {
		t.emit(model.Pop, -1, w, int64(c), model.Event{})
	}
}

func (t tracer) register(w int, c uint64, fd int, gen uint32) {
	if t != nil {
		t.emit(model.Register, -1, w, int64(c), model.Event{Fd: fd, Gen: gen})
	}
}

// ready is called once the event passed its generation check.
func (t tracer) ready(w int, c uint64, fd int, gen uint32) {
	if t != nil {
		t.emit(model.Ready, -1, w, int64(c), model.Event{Fd: fd, Gen: gen})
	}
}

// read is called after a read that returned n bytes (0: end of file).
func (t tracer) read(w int, c uint64, n int) {
	if t != nil {
		t.emit(model.Read, -1, w, int64(c), model.Event{N: n})
	}
}

// data is called when OnData returns.
func (t tracer) data(w int, c uint64, n, consumed int) {
	if t != nil {
		t.emit(model.Data, -1, w, int64(c), model.Event{N: n, Consumed: consumed})
	}
}

// write is called when Conn.Write takes n bytes, before its first send.
func (t tracer) write(w int, c uint64, n int) {
	if t != nil {
		t.emit(model.Write, -1, w, int64(c), model.Event{N: n})
	}
}

// send is called after each send(2) that took bytes of a connection's.
func (t tracer) send(w int, c uint64, n int) {
	if t != nil {
		t.emit(model.Send, -1, w, int64(c), model.Event{N: n})
	}
}

// submit must be called with the task list's lock held; n is 0 for a Wake.
func (t tracer) submit(w int, c uint64, gen uint32, n int) {
	if t != nil {
		t.emit(model.Submit, -1, w, int64(c), model.Event{Gen: gen, N: n})
	}
}

// kick must be called with the task list's lock held, just before the
// eventfd's write.
func (t tracer) kick(w int) {
	if t != nil {
		t.emit(model.Kick, -1, w, -1, model.Event{})
	}
}

// tasks must be called with the task list's lock held.
func (t tracer) tasks(w, n int) {
	if t != nil {
		t.emit(model.Tasks, -1, w, -1, model.Event{N: n})
	}
}

func (t tracer) run(w int, c uint64, gen uint32) {
	if t != nil {
		t.emit(model.Run, -1, w, int64(c), model.Event{Gen: gen})
	}
}

// drop must be called just before close(2) of an fd closed without OnClose:
// by an Acceptor (a >= 0, c < 0) or a Worker.
func (t tracer) drop(a, w int, c int64, fd int, why model.Cause) {
	if t != nil {
		t.emit(model.Drop, a, w, c, model.Event{Fd: fd, Why: why})
	}
}

// close must be called after OnClose, just before close(2).
func (t tracer) close(w int, c uint64, fd int, gen uint32, why model.Cause) {
	if t != nil {
		t.emit(model.Close, -1, w, int64(c), model.Event{Fd: fd, Gen: gen, Why: why})
	}
}

func (t tracer) stop() {
	if t != nil {
		t.emit(model.Stop, -1, -1, -1, model.Event{})
	}
}

func (t tracer) done() {
	if t != nil {
		t.emit(model.Done, -1, -1, -1, model.Event{})
	}
}
