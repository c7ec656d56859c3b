package reactor

import "github.com/handoffd/handoff/model"

// The emitters below are called at each step's linearization point (see
// model.Kind). With no Config.Trace each costs one nil check.

func (s *Server) traceAccept(a int, c uint64) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Accept, Acceptor: a, Worker: -1, Conn: int64(c)})
	}
}

// traceDispatch must be called with the worker's queue lock held.
func (s *Server) traceDispatch(a, w int, c uint64) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Dispatch, Acceptor: a, Worker: w, Conn: int64(c)})
	}
}

// traceNotify must be called just before the token's write syscall.
func (s *Server) traceNotify(a, w int) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Notify, Acceptor: a, Worker: w, Conn: -1})
	}
}

func (s *Server) traceWake(w, n int) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Wake, Acceptor: -1, Worker: w, Conn: -1, N: n})
	}
}

// tracePop must be called with the worker's queue lock held.
func (s *Server) tracePop(w int, c uint64) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Pop, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}

func (s *Server) traceRegister(w int, c uint64) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Register, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}

// traceClose must be called after OnClose, just before close(2).
func (s *Server) traceClose(w int, c uint64) {
	if s.tr != nil {
		s.tr(model.Event{Kind: model.Close, Acceptor: -1, Worker: w, Conn: int64(c)})
	}
}
