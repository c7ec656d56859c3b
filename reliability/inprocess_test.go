package reliability

import (
	"testing"

	"github.com/handoffd/handoff/internal/procstat"
)

// selfFDs lists this process's open fds by number.
func selfFDs(t testing.TB) []int {
	t.Helper()
	fds, err := procstat.FDs(0)
	if err != nil {
		t.Fatal(err)
	}
	return fds
}
