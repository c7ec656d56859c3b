package model_test

import (
	"fmt"

	"github.com/handoffd/handoff/model"
)

// The explorer refutes bug-racy-rr: two acceptors read the shared counter
// before either writes it back, so the second connection accepted gets
// number 0 again and goes to worker 0.
func ExampleExplore() {
	d, _ := model.LookupDesign("bug-racy-rr")
	r, err := model.Explore(d, d.DefaultBounds(), model.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Violation)
	for i, st := range r.Steps() {
		fmt.Printf("%d. %s\n", i+1, st)
	}
	// Output:
	// P2 round-robin violated: connection #1 got number 0, already given, so worker 0; want number 1, worker 1 (1 mod 2)
	// 1. Accept a=0 c=0 [read-seq]: read seq=0
	// 2. Accept a=1 c=0 [read-seq]: read seq=0
	// 3. Accept a=0 c=0: write seq=1
	// 4. Accept a=1 c=0: write seq=1
}

// Replay refuses a trace in which the token is written before the push: the
// memcached design notifies only after Dispatch.
func ExampleReplay() {
	trace := []model.Event{
		{Kind: model.Accept, Acceptor: 0, Worker: -1, Conn: 0},
		{Kind: model.Notify, Acceptor: 0, Worker: 0, Conn: -1},
		{Kind: model.Dispatch, Acceptor: 0, Worker: 0, Conn: 0},
	}
	d, _ := model.LookupDesign("memcached")
	r, err := model.Replay(d, 2, 1, trace)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Refused)
	// Output:
	// model refused event 1 (Notify a=0 w=0): the model can take only: Dispatch a=0 w=0 c=0
}
