package reactortest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/model"
)

// Greeter writes "w=W id=I\n" in OnOpen, W the Worker serving the connection
// and I its accept sequence number, then echoes every byte it receives. It
// keeps no state, so one value serves any number of servers.
//
// Its echo buffers all of every input, ignoring Config.MaxOutput: a client
// that sends more than it reads makes the server's output grow, so the tests
// that use it read each echo before sending more.
type Greeter struct{ reactor.BuiltinHandler }

// OnOpen greets the client.
func (Greeter) OnOpen(c *reactor.Conn) {
	_ = c.Write(fmt.Appendf(nil, "w=%d id=%d\n", c.Worker(), c.ID()))
}

// OnData echoes in and consumes it all.
func (Greeter) OnData(c *reactor.Conn, in []byte) int {
	_ = c.Write(in)
	return len(in)
}

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

// Served is what the greeting told the client, in the model's terms.
func (g Greeted) Served() model.Served { return model.Served{Conn: int64(g.ID), Worker: g.Worker} }

// Dial connects to addr, an entry of Server.Addrs, sets the connection's
// deadline GreetingTimeout from now, and reads and parses Greeter's greeting.
// On an error the connection is closed.
func Dial(addr net.Addr) (Greeted, error) {
	c, err := net.DialTimeout(addr.Network(), addr.String(), GreetingTimeout)
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

// OpenAndGreet opens total connections to a Greeter server from clients
// goroutines at once, the k-th to addrs[k mod len(addrs)]; each reads its
// greeting and closes. It returns what the clients were told, and the first
// error once every client has stopped.
func OpenAndGreet(addrs []net.Addr, total, clients int) ([]model.Served, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var out []model.Served
	var firstErr error
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= int64(total) {
					return
				}
				g, err := Dial(addrs[int(k)%len(addrs)])
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", k, err)
					}
				} else {
					g.Conn.Close()
					out = append(out, g.Served())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, firstErr
}
