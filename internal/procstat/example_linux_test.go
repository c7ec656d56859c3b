package procstat_test

import (
	"fmt"
	"os"

	"github.com/handoffd/handoff/internal/procstat"
)

// A process's own figures: at least its three standard fds, a thread, and
// resident memory.
func Example() {
	fds, err := procstat.FDs(os.Getpid())
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := procstat.ReadStatus(os.Getpid())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(fds) >= 3, st.Threads >= 1, st.RSS > 0)
	// Output: true true true
}
