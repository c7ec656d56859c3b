package reactor_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/handoffd/handoff/impl/reactor"
)

// echo writes back every byte it is offered, consuming only what fits under
// MaxOutput so that a client that does not read cannot grow the buffer.
type echo struct{}

func (echo) OnOpen(*reactor.Conn) {}

func (echo) OnData(c *reactor.Conn, in []byte) int {
	n := min(len(in), reactor.DefaultMaxOutput-c.OutputLen())
	if n > 0 {
		_ = c.Write(in[:n])
	}
	return max(n, 0)
}

func (echo) OnClose(*reactor.Conn, error) {}

func Example() {
	srv, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 2}, echo{})
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()

	addr := strings.TrimPrefix(srv.Addrs()[0], "tcp://")
	conn, err := net.Dial("tcp", addr)
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
	// Serve returned: <nil>
}
