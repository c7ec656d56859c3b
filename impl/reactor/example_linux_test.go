package reactor_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

// echo is the shortest useful handler: BuiltinHandler supplies OnOpen and
// OnClose, and OnData writes back what it is offered.
type echo struct{ reactor.BuiltinHandler }

func (echo) OnData(c *reactor.Conn, in []byte) int {
	_ = c.Write(in)
	return len(in)
}

func Example() {
	srv, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 2}, echo{})
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	addr := srv.Addrs()[0]
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprint(conn, "hello, reactor")
	reply := make([]byte, len("hello, reactor"))
	if _, err := io.ReadFull(conn, reply); err != nil {
		fmt.Println(err)
	}
	conn.Close()
	fmt.Println(string(reply))

	if err := srv.Shutdown(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("Serve returned:", <-served)
	// Output:
	// hello, reactor
	// Serve returned: reactor: server closed
}

// boundedEcho echoes only what fits under the server's MaxOutput, which it
// learns from its Server in OnBoot, so that a client that sends without
// reading holds no more than that of the server's memory; it counts its
// ticks on a goroutine of their own.
type boundedEcho struct {
	reactor.BuiltinHandler
	maxOutput int
	ticks     chan struct{}
}

func (h *boundedEcho) OnBoot(s *reactor.Server) error {
	h.maxOutput = s.Config().MaxOutput
	return nil
}

func (h *boundedEcho) OnData(c *reactor.Conn, in []byte) int {
	n := min(len(in), h.maxOutput-c.OutputLen())
	if n <= 0 {
		return 0
	}
	_ = c.Write(in[:n])
	return n
}

func (h *boundedEcho) OnTick() time.Duration {
	select {
	case h.ticks <- struct{}{}:
		return 10 * time.Millisecond
	default:
		return 0 // the example has seen enough: no more ticks
	}
}

func (h *boundedEcho) OnShutdown(s *reactor.Server) {
	fmt.Println("stopped after", s.Stats().TotalConns, "connection")
}

// A handler that is also a Booter, a Ticker and a Shutdowner receives the
// server's own events: its Server before the first connection, a call now
// and then, and the stop.
func Example_hooks() {
	h := &boundedEcho{ticks: make(chan struct{}, 3)}
	srv, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, MaxOutput: 64 << 10}, h)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	for range 3 {
		<-h.ticks
	}
	addr := srv.Addrs()[0]
	conn, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprint(conn, "ping")
	reply := make([]byte, 4)
	_, err = io.ReadFull(conn, reply)
	conn.Close()
	fmt.Println(string(reply), err, "within", h.maxOutput, "bytes of output")
	cancel() // a done context stops Serve as Shutdown does
	fmt.Println("Serve returned:", <-served)
	// Output:
	// ping <nil> within 65536 bytes of output
	// stopped after 1 connection
	// Serve returned: reactor: server closed
}
