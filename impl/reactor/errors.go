package reactor

import "errors"

// Sentinel errors, tested with errors.Is.
var (
	// ErrClosed is returned by Conn methods once the connection's OnClose has
	// run, and by AsyncWrite and Wake on a handle whose connection is gone: a
	// stale handle never reaches a newer connection on a reused fd (P6).
	ErrClosed = errors.New("reactor: connection closed")
	// ErrInputTooLarge is passed to OnClose when the handler left more than
	// Config.MaxInput bytes unconsumed.
	ErrInputTooLarge = errors.New("reactor: unconsumed input over MaxInput")
	// ErrServerClosed is returned by Serve once Shutdown, Close or its
	// context stopped it, or when the server was already stopped; it is
	// passed to OnClose for the connections closed by the stop.
	ErrServerClosed = errors.New("reactor: server closed")
	// ErrIdleTimeout is passed to OnClose for connections closed by
	// Config.IdleTimeout.
	ErrIdleTimeout = errors.New("reactor: idle timeout")
	// ErrOutputFull is returned by AsyncWrite when the connection already has
	// Config.MaxOutput bytes of asynchronous writes in flight: the bound keeps a
	// producer on another goroutine from growing memory without limit.
	ErrOutputFull = errors.New("reactor: asynchronous output over MaxOutput")
)
