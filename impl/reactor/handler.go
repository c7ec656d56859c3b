package reactor

// Handler receives a connection's events. Every call for one connection is
// made on the goroutine of the Worker that registered it, never two at once,
// so a handler needs no lock for per-connection state.
//
// A Handler may also be a Booter, a Ticker or a Shutdowner, for the server's
// own events.
type Handler interface {
	// OnOpen runs once, right after the Worker registered the connection.
	OnOpen(c *Conn)
	// OnData is offered every byte the connection has received and not yet
	// consumed, and returns how many of them it consumed (0 <= n <= len(in)).
	// The rest is offered again, followed by the next bytes read. in is only
	// valid during the call: it may point into the Worker's shared read
	// buffer.
	//
	// While c's output buffer is over Config.MaxOutput the Worker stops
	// reading the connection; a handler that wants to stop producing before
	// that returns early and is offered the rest again once the output
	// drains.
	//
	// in is empty only on a call that Conn.Wake asked for while no input
	// was held; such a call must return 0.
	OnData(c *Conn, in []byte) (consumed int)
	// OnClose runs exactly once, before the fd is closed (P6 close before
	// reuse); err is nil for a clean close by either side.
	OnClose(c *Conn, err error)
}

// BuiltinHandler does nothing on every event and consumes every byte
// offered. Embedded in a handler's struct, it lets the handler define only
// the methods it needs:
//
//	type echo struct{ reactor.BuiltinHandler }
//
//	func (echo) OnData(c *reactor.Conn, in []byte) int { c.Write(in); return len(in) }
type BuiltinHandler struct{}

// OnOpen does nothing.
func (BuiltinHandler) OnOpen(*Conn) {}

// OnData discards in.
func (BuiltinHandler) OnData(_ *Conn, in []byte) int { return len(in) }

// OnClose does nothing.
func (BuiltinHandler) OnClose(*Conn, error) {}
