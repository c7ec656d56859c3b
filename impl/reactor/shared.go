package reactor

import (
	"log/slog"

	"github.com/handoffd/handoff/internal/kernel"
)

// shared is what every Acceptor and Worker of one server uses: the kernel,
// the log, the trace hook, the admission gate and the server-wide counters.
// The Server holds it; its loops point to it. Immutable after New but for
// the atomics inside adm and srvStats.
type shared struct {
	k        kernel.Kernel
	log      *slog.Logger
	tr       tracer
	adm      admission
	srvStats serverStats
	// rawWait: the io_uring loops wait first in a raw io_uring_enter that
	// keeps their P, by kernel.Options.RawWait's rule for epoll's.
	rawWait bool
}
