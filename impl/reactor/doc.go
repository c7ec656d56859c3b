// Package reactor is handoff's production server core: memcached's
// connection model (thread.c, memcached.c) as a Go library that TCP servers
// are built on, one Acceptor handing every connection round-robin to N
// Worker event loops. It holds the loops and their rules, and no system call
// of its own: every one goes through internal/kernel, or, for the io_uring
// backend, internal/uring, so that the package builds on every system (New
// refuses with errors.ErrUnsupported where there is no kernel for it, today
// anywhere but Linux) and another kernel can stand in for Linux's.
//
// # The hand-off
//
// One or more Acceptors, each a goroutine locked to its OS thread with its
// own poll set over every listener, accept connections until EAGAIN. Each
// accepted fd gets the next global sequence number, goes through the
// balancer (round-robin by default: the k-th connection goes to Worker k mod
// N, P2 round-robin), is pushed onto the chosen Worker's queue under the
// queue's lock (Dispatch) and only then is the Worker notified (Notify): one
// byte on a pipe or one increment of an eventfd, for every connection
// (per-conn) or only when the Worker's notified flag flips 0→1 (coalesced).
//
// Each Worker is a goroutine locked to its OS thread with its own poll set
// over the read end of its notify channel, its task eventfd and its
// connections. On a wake-up it reads the tokens (Wake), pops (Pop), adds the
// fd to its poll set (Register) and calls Handler.OnOpen; from then on every
// callback for that connection runs on that Worker, never two at once.
// There is no goroutine per connection and no net.Listener in the data path.
//
// # io_uring
//
// With Config.IO uring (or auto, where the kernel allows it) the loops are
// built on io_uring instead (model/'s msgring design). Each Acceptor has a
// ring with one multishot accept per listener, submitted again whenever
// the kernel ends it; it posts each connection, fd and number, straight
// into the picked Worker's ring with IORING_OP_MSG_RING, so that the
// Worker's completion queue is its queue and its notify channel at once,
// and a post that fails is submitted again. Each Worker waits in one
// io_uring_enter per turn, which also submits what the turn before queued:
// a receive per reading connection into a group of provided buffers (one
// at a time, so that a connection over MaxOutput stops receiving at once)
// and one send of each connection's pending output (Conn.Write never
// sends itself). A closed connection's requests are cancelled, and its fd
// is closed once they have completed, after OnClose (P6). The rest (the
// task list, the idle timeout, MaxConns, EMFILE, Shutdown) is the epoll
// backend's.
//
// The properties the package implements are named as in spec/SPEC.md:
// P1 exactly-once, P2 round-robin, P3 per-worker FIFO, P4 no lost wake-up,
// P5 no fd leak, P6 close before reuse, P7 clean shutdown. Config.Trace
// receives the hand-off events of model.Event at their linearization
// points, so that a recorded trace is a real order of the steps and can be
// replayed through the model (spec/DESIGN.md §4).
//
// # Bounds
//
// Memory is bounded: a Worker owns one read buffer shared by its
// connections; a connection keeps input only while its handler leaves some
// unconsumed (at most Config.MaxInput) and output only while the socket
// cannot take it; over Config.MaxOutput the Worker stops reading that
// connection until its output drains. At Config.MaxConns a new connection
// is sent Config.RejectLine and closed; on EMFILE or ENFILE an Acceptor
// takes its listeners out of its poll set and re-arms them every 10 ms and
// whenever a connection closes, never spinning (memcached's
// listen_disabled_num).
//
// # Files
//
// The files read top-down, each using only what is declared in itself, in
// a file of its own layer, or below it (TestFilesReadDown holds them to
// it): server.go (New, Serve, Shutdown and the server's hooks), config.go
// (Config, its defaults and validation), acceptor.go and, beside it,
// uring_acceptor_linux.go, balancer.go, worker.go (every Worker method: the
// loop, the hand-off's Worker side, the connections' events) and, beside
// it, uring_worker_linux.go (and uring_other.go's stubs), notify.go
// (the notify channel and wake-up policy, chosen once), queue.go,
// handler.go, conn.go (what a handler calls, and the little a Conn reaches
// of its Worker), then the leaves every loop uses: listener.go, shared.go,
// admission.go, stats.go, trace.go, errors.go. The Worker owns its notify
// channel and its queue, so they sit below it, though a connection passes
// through them before it reaches the Worker.
package reactor
