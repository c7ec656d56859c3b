package reliability_test

import (
	"fmt"
	"os"

	"github.com/handoffd/handoff/reliability"
)

// ReadProc samples a process as the tests and the soak watch handoffd: its
// resident memory, OS threads, open fds and CPU time.
func ExampleReadProc() {
	p, err := reliability.ReadProc(os.Getpid())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.RSS > 0, p.Threads >= 1, p.FDs >= 3, p.CPUTicks >= 0)
	// Output: true true true true
}
