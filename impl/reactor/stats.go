package reactor

import "sync/atomic"

// Stats is a snapshot of the server's counters, named after memcached's
// where memcached has one. Each counter is read atomically on its own, so a
// snapshot taken under load need not be consistent across counters.
type Stats struct {
	IO             string // the backend in use: "epoll" or "uring" (Config.IO)
	Accepted       uint64 // fds returned by accept4, including rejected ones
	Rejected       uint64 // closed at MaxConns with RejectLine (memcached: rejected_connections)
	ListenDisabled uint64 // EMFILE/ENFILE episodes (memcached: listen_disabled_num)
	CurrConns      int64  // registered and not yet closed (memcached: curr_connections)
	Admitted       int64  // holding one of MaxConns' slots: queued or registered, fd not yet closed
	TotalConns     uint64 // ever registered (memcached: total_connections)
	IdleClosed     uint64 // closed by IdleTimeout
	HandlerPanics  uint64 // handler panics recovered (the conn is closed)
	BytesIn        uint64
	BytesOut       uint64
	Workers        []WorkerStats
}

// WorkerStats are one Worker's counters.
type WorkerStats struct {
	Dispatched uint64 // connections pushed onto its queue
	CurrConns  int64  // registered and not yet closed
	TotalConns uint64 // ever registered
	BytesIn    uint64
	BytesOut   uint64
	QueueLen   int // connections queued, not yet popped
}

// serverStats are the counters not owned by one Worker.
type serverStats struct {
	accepted       atomic.Uint64
	rejected       atomic.Uint64
	listenDisabled atomic.Uint64
	idleClosed     atomic.Uint64
	handlerPanics  atomic.Uint64
}

// workerStats are written by the Worker's goroutine (and Dispatched by the
// Acceptors) and read by Stats from any goroutine.
type workerStats struct {
	dispatched atomic.Uint64
	currConns  atomic.Int64
	totalConns atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	queueLen   atomic.Int64
}

// snapshot reads each counter once.
func (s *workerStats) snapshot() WorkerStats {
	return WorkerStats{
		Dispatched: s.dispatched.Load(),
		CurrConns:  s.currConns.Load(),
		TotalConns: s.totalConns.Load(),
		BytesIn:    s.bytesIn.Load(),
		BytesOut:   s.bytesOut.Load(),
		QueueLen:   int(s.queueLen.Load()),
	}
}
