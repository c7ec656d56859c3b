package reactortest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

// ShutdownTimeout bounds the Shutdown that Serve's cleanup makes. It is
// generous, for a loaded machine under the race detector: a stop that takes
// longer is a stuck Worker or Acceptor, not a slow one.
const ShutdownTimeout = 20 * time.Second

// quietLogger keeps the records a test provokes on purpose (handler panics,
// EMFILE) out of the test's output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// Serve creates a server for cfg and h, runs Serve in a goroutine and returns
// the server; New failing fails the test at once. An empty cfg.Listen becomes
// "tcp://127.0.0.1:0" and a nil cfg.Logger one that discards every record.
//
// When the test and its deferred calls are done, a cleanup checks P7 clean
// shutdown (spec/SPEC.md): Shutdown must return nil within ShutdownTimeout,
// then Serve must return nil. One exception: when the server never accepted
// a connection, the cleanup's Shutdown may have come before the goroutine
// entered Serve, which then returns ErrServerClosed as documented; that is
// the test's race, not the server's, and is not reported.
func Serve(t testing.TB, cfg reactor.Config, h reactor.Handler) *reactor.Server {
	t.Helper()
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{"tcp://127.0.0.1:0"}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	s, err := reactor.New(cfg, h)
	if err != nil {
		t.Fatalf("reactor.New: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("P7 clean shutdown: Shutdown: %v", err)
		}
		err := <-served
		if errors.Is(err, reactor.ErrServerClosed) && s.Stats().Accepted == 0 {
			return
		}
		if err != nil {
			t.Errorf("P7 clean shutdown: Serve: %v", err)
		}
	})
	return s
}

// Greeter writes "w=W id=I\n" in OnOpen, W the Worker serving the connection
// and I its accept sequence number, then echoes every byte it receives. It
// keeps no state, so one value serves any number of servers.
//
// Its echo buffers all of every input, ignoring Config.MaxOutput: a client
// that sends more than it reads makes the server's output grow, so the tests
// that use it read each echo before sending more.
type Greeter struct{}

// OnOpen greets the client.
func (Greeter) OnOpen(c *reactor.Conn) {
	_ = c.Write(fmt.Appendf(nil, "w=%d id=%d\n", c.Worker(), c.ID()))
}

// OnData echoes in and consumes it all.
func (Greeter) OnData(c *reactor.Conn, in []byte) int {
	_ = c.Write(in)
	return len(in)
}

// OnClose does nothing: Greeter keeps no state.
func (Greeter) OnClose(*reactor.Conn, error) {}

// ParseGreeting reads the Worker and the accept sequence number from a
// greeting of Greeter, with or without its final newline. Anything else,
// including trailing bytes, is an error: a greeting mixed with other output
// means bytes reached the wrong connection or arrived out of order.
func ParseGreeting(line string) (worker int, id uint64, err error) {
	ws, is, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	ws, okW := strings.CutPrefix(ws, "w=")
	is, okI := strings.CutPrefix(is, "id=")
	if !ok || !okW || !okI {
		return 0, 0, fmt.Errorf("reactortest: greeting %q is not \"w=W id=I\"", line)
	}
	if worker, err = strconv.Atoi(ws); err != nil || worker < 0 {
		return 0, 0, fmt.Errorf("reactortest: greeting %q: bad worker", line)
	}
	if id, err = strconv.ParseUint(is, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("reactortest: greeting %q: bad id", line)
	}
	return worker, id, nil
}

// GreetingTimeout is the deadline Dial gives a new connection: generous, for
// a loaded machine under the race detector.
const GreetingTimeout = 10 * time.Second

// Greeted is a client connection to a Greeter server, its greeting read.
type Greeted struct {
	Conn net.Conn
	// R reads what follows the greeting; use it, not Conn, to read.
	R      *bufio.Reader
	Worker int
	ID     uint64
}

// Dial connects to addr, an entry of Server.Addrs ("tcp://…" or
// "unix://…"), sets the connection's deadline GreetingTimeout from now, and
// reads and parses Greeter's greeting. On an error the connection is closed.
func Dial(addr string) (Greeted, error) {
	network, a := "tcp", strings.TrimPrefix(addr, "tcp://")
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		network, a = "unix", rest
	}
	c, err := net.DialTimeout(network, a, GreetingTimeout)
	if err != nil {
		return Greeted{}, err
	}
	_ = c.SetDeadline(time.Now().Add(GreetingTimeout))
	g := Greeted{Conn: c, R: bufio.NewReader(c)}
	line, err := g.R.ReadString('\n')
	if err == nil {
		g.Worker, g.ID, err = ParseGreeting(line)
	}
	if err != nil {
		c.Close()
		return Greeted{}, fmt.Errorf("greeting %q: %w", line, err)
	}
	return g, nil
}
