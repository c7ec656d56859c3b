//go:build !linux

package reactor

import "github.com/handoffd/handoff/internal/uring"

// Off Linux there is no io_uring: New refuses IOUring and IOAuto falls
// back to epoll, which is not there either (kernel.New fails first).

type ringWorker struct{}

func (*ringWorker) close() {}

type ringAcceptor struct{}

func (*ringAcceptor) close() {}

func newRingWorker(int) (*ringWorker, error)     { return nil, uring.ErrUnsupported }
func newRingAcceptor(int) (*ringAcceptor, error) { return nil, uring.ErrUnsupported }

func (w *worker) runRing()                  {}
func (w *worker) settleRing(*Conn)          {}
func (w *worker) finalizeRing(*Conn, error) {}
func (a *acceptor) runRing()                {}
