// Package reactor is handoff's production half: memcached's connection model
// (thread.c, memcached.c) as a Go library that TCP servers are built on.
//
// One or more Acceptors, each a goroutine locked to its OS thread with its own
// epoll set over every listener, accept connections with accept4 until EAGAIN.
// Each accepted fd gets the next global sequence number, goes through the
// balancer (round-robin by default: the k-th connection goes to worker k mod N,
// P2 round-robin), is pushed onto the chosen Worker's queue under the queue's
// lock (Dispatch) and only then is the Worker notified (Notify): one byte on a
// pipe or one increment of an eventfd, for every connection (per-conn) or only
// when the Worker's wake-up flag flips 0→1 (coalesced).
//
// Each Worker is a goroutine locked to its OS thread with its own epoll set over
// the read end of its notify channel, its task eventfd and its connections. On
// a wake-up it reads the tokens (Wake), pops (Pop), adds the fd to its epoll set
// (Register) and calls Handler.OnOpen; from then on every callback for that
// connection runs on that Worker, never two at once. There is no goroutine per
// connection and no net.Listener in the data path: everything is epoll, accept4,
// read and write on non-blocking fds through golang.org/x/sys/unix.
//
// The properties the package implements are named as in spec/SPEC.md:
// P1 exactly-once, P2 round-robin, P3 per-worker FIFO, P4 no lost wake-up,
// P5 no fd leak, P6 close before reuse, P7 clean shutdown. Config.Trace
// receives the hand-off events of model.Event at their linearization points, so
// a recorded trace is a real order of the steps and can be replayed through the
// model (DESIGN.md §4).
//
// Memory is bounded: a Worker owns one read buffer shared by its connections;
// a connection keeps input only while its handler leaves some unconsumed
// (at most Config.MaxInput) and output only while the socket cannot take it;
// over Config.MaxOutput the Worker stops reading that connection until its
// output drains. At Config.MaxConns a new connection is sent Config.RejectLine
// and closed; on EMFILE or ENFILE an Acceptor takes its listeners out of its
// epoll set and re-arms them every 10 ms and whenever a connection closes,
// never spinning (memcached's listen_disabled_num).
//
// Linux only.
package reactor
