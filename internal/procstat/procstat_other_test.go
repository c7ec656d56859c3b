//go:build !linux

package procstat

import (
	"errors"
	"os"
	"testing"
)

// Off Linux there is no /proc: both readers must fail with an error that
// says so, rather than return zero figures a caller would take for real ones.
func TestUnsupported(t *testing.T) {
	if _, err := CPUTicks(os.Getpid()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CPUTicks(self) error = %v; want errors.ErrUnsupported", err)
	}
	if _, err := ReadStatus(os.Getpid()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ReadStatus(self) error = %v; want errors.ErrUnsupported", err)
	}
}
