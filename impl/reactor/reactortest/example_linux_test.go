package reactortest_test

import (
	"context"
	"fmt"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// Greeter tells each client its connection's Worker and accept number,
// which Dial reads back: the k-th connection of a round-robin server is
// conn k on Worker k mod N.
func ExampleDial() {
	s, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 2, Logger: reactortest.Quiet}, reactortest.Greeter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	go s.Serve(context.Background())
	defer s.Shutdown(context.Background())
	for range 3 {
		g, err := reactortest.Dial(s.Addrs()[0])
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("conn %d on worker %d\n", g.ID, g.Worker)
		g.Conn.Close()
	}
	// Output:
	// conn 0 on worker 0
	// conn 1 on worker 1
	// conn 2 on worker 0
}
