package kernel_test

import (
	"fmt"

	"github.com/handoffd/handoff/internal/kernel"
)

// A poll set over an eventfd, as the reactor's Workers watch their task
// list: a Kick makes it ready, a Reset makes it quiet again.
func Example() {
	k, err := kernel.New(kernel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ep, _ := k.PollCreate()
	efd, _ := k.Eventfd()
	defer k.Close(ep)
	defer k.Close(efd)
	if err := k.PollCtl(ep, kernel.Add, efd, kernel.In, 7); err != nil {
		fmt.Println(err)
		return
	}
	evs := make([]kernel.Event, 4)
	kernel.Kick(k, efd)
	n, _ := k.PollWait(ep, evs, 1000)
	fmt.Println("ready:", n, "tag", evs[0].Pad, "in", evs[0].Events&kernel.In != 0)
	kernel.Reset(k, efd)
	n, _ = k.PollWait(ep, evs, 0)
	fmt.Println("after Reset:", n)
	// Output:
	// ready: 1 tag 7 in true
	// after Reset: 0
}
