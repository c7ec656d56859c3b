package reactor_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// socketsOnPort counts this process's fds that are TCP sockets whose local
// port is port: the server's listener and every connection it accepted, and
// none of its clients' (whose local ports are ephemeral). It reads the
// kernel's own tables, so a socket the server forgot is counted too.
func socketsOnPort(t *testing.T, port int) int {
	t.Helper()
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseUint(fields[1][i+1:], 16, 16); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err) // no /proc
	}
	n := 0
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && inodes[link] {
			n++
		}
	}
	return n
}

// dialers is how many clients dial at once in TestDialThroughoutShutdown.
const dialers = 48

// dialBriefly dials addr and reads the greeting, giving up after a second: a dial left in the listen backlog once the Acceptors stopped
// must not keep its dialer from dialing again while Shutdown runs.
func dialBriefly(addr net.Addr) (net.Conn, bool) {
	c, err := net.DialTimeout(addr.Network(), addr.String(), time.Second)
	if err != nil {
		return nil, false
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		c.Close()
		return nil, false
	}
	return c, true
}

// slowClose makes OnOpen slow once slowOpen is set, so that connections
// wait in the queues when Shutdown begins, and holds the first OnClose that Shutdown causes until every dialer
// has begun a dial since Shutdown began, so that they dial while it runs.
// (A dial then waits in the listen backlog, which nobody accepts from any
// more, until the listener is closed.)
type slowClose struct {
	*reactortest.Counter
	slowOpen *atomic.Bool
	shutting *atomic.Bool
	during   *atomic.Int64 // dials begun since Shutdown began
	once     *sync.Once
}

func (h slowClose) OnOpen(c *reactor.Conn) {
	if h.slowOpen.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	h.Counter.OnOpen(c)
}

func (h slowClose) OnClose(c *reactor.Conn, err error) {
	if h.shutting.Load() {
		h.once.Do(func() {
			for deadline := time.Now().Add(reactortest.WaitTimeout); h.during.Load() < dialers && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		})
	}
	h.Counter.OnClose(c, err)
}

// TestDialThroughoutShutdown checks P7 clean shutdown and P5 no fd leak at
// the moment Shutdown returns, while clients keep dialing before, during and
// after it: every connection the server registered has had OnClose exactly
// once, CurrConns is 0, and the process holds no socket on the server's port
// — neither the listener nor any connection, registered, queued or accepted
// while Shutdown ran. A slow OnOpen keeps connections queued when it begins.
func TestDialThroughoutShutdown(t *testing.T) {
	h := slowClose{Counter: reactortest.NewCounter(0), slowOpen: new(atomic.Bool), shutting: new(atomic.Bool), during: new(atomic.Int64), once: new(sync.Once)}
	s := reactortest.New(t, reactor.Config{Workers: 1}, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	addr := s.Addrs()[0]
	port := addr.(*net.TCPAddr).Port

	var (
		mu      sync.Mutex
		clients []net.Conn
		greeted atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	defer func() {
		stop.Store(true)
		wg.Wait()
		for _, c := range clients {
			c.Close()
		}
	}()
	for range dialers {
		wg.Go(func() {
			for i := 0; !stop.Load() && i < 500; i++ {
				if h.shutting.Load() {
					h.during.Add(1)
				}
				c, ok := dialBriefly(addr)
				if !ok {
					continue // refused, closed, or left in the backlog: Shutdown has begun
				}
				greeted.Add(1)
				mu.Lock()
				clients = append(clients, c) // held open: the server must close its side
				mu.Unlock()
			}
		})
	}
	reactortest.WaitFor(t, "100 greeted clients", func() bool { return greeted.Load() >= 100 })
	h.slowOpen.Store(true)
	// The Worker takes at most 32 pipe tokens at a time, and registers
	// those it took before it looks at the stop: more than that queued, and
	// some are still queued when it does.
	reactortest.WaitFor(t, "40 queued connections", func() bool { return s.Stats().Workers[0].QueueLen >= 40 })

	h.shutting.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), reactortest.ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v\n%s", err, reactortest.Stacks())
	}
	// The moment Shutdown returns: count before anything else can change.
	sockets := socketsOnPort(t, port)
	opened, closed := h.Conns()
	st := s.Stats()
	during := h.during.Load()

	if sockets != 0 {
		t.Errorf("P5/P7: %d sockets on the server's port are still open when Shutdown returns", sockets)
	}
	if opened != closed || uint64(opened) != st.TotalConns || st.CurrConns != 0 {
		t.Errorf("P7: when Shutdown returns: OnOpen %d, OnClose %d, TotalConns %d, CurrConns %d", opened, closed, st.TotalConns, st.CurrConns)
	}
	if _, err := h.OnceEach(); err != nil {
		t.Error(err)
	}
	if during < dialers {
		t.Errorf("only %d dials began while Shutdown ran: the test did not dial throughout it", during)
	}
	queued := st.Accepted - st.Rejected - st.TotalConns
	if queued == 0 {
		t.Error("no connection was still queued when Shutdown began: the test did not exercise closing queued fds")
	}
	if err := reactortest.Await(t, served, "Serve to return"); !errors.Is(err, reactor.ErrServerClosed) {
		t.Errorf("P7: Serve returned %v, want ErrServerClosed", err)
	}
	t.Logf("accepted %d, registered %d, closed while queued %d, dials begun during Shutdown %d", st.Accepted, st.TotalConns, queued, during)
}
