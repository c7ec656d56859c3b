package reactor_test

import (
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestOneShotReceive runs the receive path's tests on io_uring as a kernel
// without a multishot receive's limit makes the Worker run it, one receive
// at a time: P9's output bound and integrity, the half-close's held input,
// the idle timeout and the last turn's close at shutdown.
func TestOneShotReceive(t *testing.T) {
	if reactortest.IO() != reactor.IOUring {
		t.Skip("the io_uring backend's (HANDOFF_IO=uring)")
	}
	reactor.OneShotRecv(t)
	t.Run("EchoIntegrity", TestEchoIntegrity)
	t.Run("Backpressure", TestBackpressure)
	t.Run("HalfCloseHeldInput", TestHalfCloseHeldInput)
	t.Run("IdleTimeout", TestIdleTimeout)
	t.Run("ShutdownClosesTheLastTurnsClose", TestShutdownClosesTheLastTurnsClose)
}
