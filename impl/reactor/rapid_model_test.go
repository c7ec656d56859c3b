package reactor_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/race"
	"github.com/handoffd/handoff/model"
)

// TestRapidServerBesideModel is a rapid state-machine test with the model
// beside the implementation (spec/DESIGN.md §4). Actions connect on listener i
// (TCP or unix), send bytes and read the echo, close from the client, and
// write from another goroutine with AsyncWrite, on a live server of a drawn
// design and size. After every action, once the server is quiet, the check
// compares what it observably did with what the model predicts: which
// worker serves which connection (P2 round-robin), each worker's dispatched,
// registered and open counts and its empty queue, OnOpen and OnClose once
// each (P1 exactly-once, P6 close before reuse), and the trace so far
// replayed through the model design (P1–P4). The run ends with Shutdown,
// after which every connection has had its OnClose (P7 clean shutdown).
// Failures are shrunk and kept under testdata/rapid.
func TestRapidServerBesideModel(t *testing.T) {
	if race.Enabled || testing.Short() {
		fewerRapidChecks(t, 30)
	}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "workers")
		nt := rapid.SampledFrom([]reactor.Notify{reactor.NotifyPipe, reactor.NotifyEventfd}).Draw(t, "notify")
		wk := rapid.SampledFrom([]reactor.Wakeup{reactor.WakeupPerConn, reactor.WakeupCoalesced}).Draw(t, "wakeup")
		sm := newBesideModel(t, n, nt, wk)
		defer sm.shutdown(t)
		t.Repeat(map[string]func(*rapid.T){
			"connect":    sm.connect,
			"send":       sm.send,
			"close":      sm.close,
			"asyncWrite": sm.asyncWrite,
			"":           sm.check,
		})
	})
}

// fewerRapidChecks lowers -rapid.checks to n for this test unless it was
// set on the command line: each case of a live-server test costs a server,
// and under the race detector 100 of them take most of the package's time
// budget.
func fewerRapidChecks(t *testing.T, n int) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	f := flag.Lookup("rapid.checks")
	if set || f == nil {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// besideModel is the server under test and the model's prediction of it.
type besideModel struct {
	n      int
	design model.Design
	srv    *reactor.Server
	served chan error
	h      *trackingHandler
	log    *model.Trace
	addrs  []net.Addr
	dir    string

	// The model: connections are numbered in connect order (the actions
	// run one at a time) and conn k is served by worker k mod n.
	clients  []*smClient // every connection opened, by number
	open     []*smClient // the ones the client has not closed
	openBy   []int       // open connections per worker
	totalBy  []int       // connections ever served per worker
	closedBy []int       // connections the server closed, per worker
}

type smClient struct {
	c      net.Conn
	r      *bufio.Reader
	id     int64
	worker int
}

func newBesideModel(t *rapid.T, n int, nt reactor.Notify, wk reactor.Wakeup) *besideModel {
	dir, err := os.MkdirTemp("", "hr")
	if err != nil {
		t.Fatal(err)
	}
	notify := string(nt)
	if reactortest.IO() == reactor.IOUring {
		notify = "msgring" // io_uring's hand-off, whatever Notify says
	}
	d, err := model.DesignOf(notify, string(wk))
	if err != nil {
		t.Fatal(err)
	}
	sm := &besideModel{n: n, design: d, h: newTrackingHandler(), log: &model.Trace{}, dir: dir,
		openBy: make([]int, n), totalBy: make([]int, n), closedBy: make([]int, n), served: make(chan error, 1)}
	cfg := reactor.Config{
		Listen:  []string{"tcp://127.0.0.1:0", "unix://" + filepath.Join(dir, "s.sock")},
		Workers: n, Notify: nt, Wakeup: wk, IO: reactortest.IO(), Trace: sm.log.Record,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if sm.srv, err = reactor.New(cfg, sm.h); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	sm.addrs = sm.srv.Addrs()
	go func() { sm.served <- sm.srv.Serve(context.Background()) }()
	return sm
}

func (sm *besideModel) connect(t *rapid.T) {
	i := rapid.IntRange(0, len(sm.addrs)-1).Draw(t, "listener")
	g, err := reactortest.Dial(sm.addrs[i])
	if err != nil {
		t.Fatal(err)
	}
	cl := &smClient{c: g.Conn, r: g.R, worker: g.Worker, id: int64(g.ID)}
	k := int64(len(sm.clients))
	if cl.id != k || cl.worker != int(k)%sm.n {
		t.Fatalf("P2: connect #%d on %s served as conn %d by worker %d; the model says conn %d, worker %d",
			k, sm.addrs[i], cl.id, cl.worker, k, int(k)%sm.n)
	}
	sm.clients = append(sm.clients, cl)
	sm.open = append(sm.open, cl)
	sm.openBy[cl.worker]++
	sm.totalBy[cl.worker]++
}

// pick draws one open connection, or skips the action when none is open.
func (sm *besideModel) pick(t *rapid.T) (int, *smClient) {
	if len(sm.open) == 0 {
		t.Skip("no open connection")
	}
	j := rapid.IntRange(0, len(sm.open)-1).Draw(t, "conn")
	return j, sm.open[j]
}

// send writes a payload, large ones past the socket buffers so that the
// server's output buffer fills and drains, and requires it echoed intact.
func (sm *besideModel) send(t *rapid.T) {
	_, cl := sm.pick(t)
	size := rapid.SampledFrom([]int{1, 100, 4 << 10, 300 << 10}).Draw(t, "size")
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(int(cl.id)*13 + i)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := cl.c.Write(p)
		errc <- err
	}()
	got := make([]byte, size)
	if _, err := io.ReadFull(cl.r, got); err != nil {
		t.Fatalf("conn %d: echo of %d bytes: %v", cl.id, size, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("conn %d: write: %v", cl.id, err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("conn %d: the echo of %d bytes came back changed", cl.id, size)
	}
}

// close closes the client's end; the server must close its end, once.
func (sm *besideModel) close(t *rapid.T) {
	j, cl := sm.pick(t)
	cl.c.Close()
	sm.open = slices.Delete(sm.open, j, j+1)
	sm.openBy[cl.worker]--
	sm.closedBy[cl.worker]++
	if !sm.h.awaitClosed(cl.id, 10*time.Second) {
		t.Fatalf("P7: conn %d: no OnClose after the client closed", cl.id)
	}
}

// asyncWrite writes to a connection from the test's goroutine through
// AsyncWrite; the client must read exactly those bytes. A handle of a
// closed connection must refuse with ErrClosed (P6: nothing reaches a
// connection after its OnClose).
func (sm *besideModel) asyncWrite(t *rapid.T) {
	if len(sm.clients) > len(sm.open) && rapid.Bool().Draw(t, "stale") {
		var gone []int64
		for _, c := range sm.clients {
			if !slices.Contains(sm.open, c) {
				gone = append(gone, c.id)
			}
		}
		id := rapid.SampledFrom(gone).Draw(t, "closed conn")
		if err := sm.h.conn(id).AsyncWrite([]byte("late")); !errors.Is(err, reactor.ErrClosed) {
			t.Fatalf("P6: AsyncWrite on closed conn %d: %v, want ErrClosed", id, err)
		}
		return
	}
	_, cl := sm.pick(t)
	p := fmt.Appendf(nil, "async %d %d\n", cl.id, rapid.IntRange(0, 1<<20).Draw(t, "tag"))
	if err := sm.h.conn(cl.id).AsyncWrite(p); err != nil {
		t.Fatalf("conn %d: AsyncWrite: %v", cl.id, err)
	}
	got := make([]byte, len(p))
	if _, err := io.ReadFull(cl.r, got); err != nil || !bytes.Equal(got, p) {
		t.Fatalf("conn %d: AsyncWrite sent %q, client read %q (%v)", cl.id, p, got, err)
	}
}

// check waits until the server is quiet and compares it with the model.
func (sm *besideModel) check(t *rapid.T) {
	total := len(sm.clients)
	deadline := time.Now().Add(10 * time.Second)
	var st reactor.Stats
	for {
		st = sm.srv.Stats()
		if st.TotalConns == uint64(total) && st.CurrConns == int64(len(sm.open)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not quiet: %d registered, %d open; the model says %d, %d", st.TotalConns, st.CurrConns, total, len(sm.open))
		}
		time.Sleep(time.Millisecond)
	}
	for w, ws := range st.Workers {
		if ws.Dispatched != uint64(sm.totalBy[w]) || ws.TotalConns != uint64(sm.totalBy[w]) ||
			ws.CurrConns != int64(sm.openBy[w]) || ws.QueueLen != 0 {
			t.Fatalf("worker %d: Stats %+v; the model says %d dispatched and registered, %d open, queue empty",
				w, ws, sm.totalBy[w], sm.openBy[w])
		}
	}
	for _, cl := range sm.clients {
		opens, closes := sm.h.counts(cl.id)
		wantCloses := 1
		if slices.Contains(sm.open, cl) {
			wantCloses = 0
		}
		if opens != 1 || closes != wantCloses {
			t.Fatalf("P1/P6: conn %d had %d OnOpen and %d OnClose, want 1 and %d", cl.id, opens, closes, wantCloses)
		}
	}
	res, err := model.Replay(sm.design, sm.n, 1, sm.log.Events())
	if err != nil {
		t.Fatal(err)
	}
	if res.Refused != nil {
		t.Fatalf("%s: %v", sm.design.Name, res.Refused)
	}
	closed := make([]int, sm.n)
	for _, e := range sm.log.Events() {
		if e.Kind == model.Close {
			closed[e.Worker]++
		}
	}
	for w := range sm.n {
		if res.Registered()[w] != sm.totalBy[w] || closed[w] != sm.closedBy[w] {
			t.Fatalf("worker %d: the trace registered %d and closed %d; the model says %d and %d",
				w, res.Registered()[w], closed[w], sm.totalBy[w], sm.closedBy[w])
		}
	}
}

// shutdown stops the server: every connection still open gets its OnClose
// (P7 clean shutdown) and Serve returns ErrServerClosed.
func (sm *besideModel) shutdown(t *rapid.T) {
	defer os.RemoveAll(sm.dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sm.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	err := <-sm.served
	for _, cl := range sm.open {
		cl.c.Close()
	}
	if !errors.Is(err, reactor.ErrServerClosed) {
		t.Fatalf("P7: Serve returned %v, want ErrServerClosed", err)
	}
	for _, cl := range sm.clients {
		if opens, closes := sm.h.counts(cl.id); opens != 1 || closes != 1 {
			t.Fatalf("P7: after Shutdown conn %d had %d OnOpen and %d OnClose, want 1 each", cl.id, opens, closes)
		}
	}
	if st := sm.srv.Stats(); st.CurrConns != 0 {
		t.Fatalf("P7: %d connections open after Shutdown", st.CurrConns)
	}
}

// trackingHandler greets ("w=W id=I\n"), echoes within MaxOutput, and
// records each connection's handle and its OnOpen and OnClose counts.
type trackingHandler struct {
	*reactortest.Echo
	mu     sync.Mutex
	conns  map[int64]*reactor.Conn
	opens  map[int64]int
	closes map[int64]int
	closed *sync.Cond
}

func newTrackingHandler() *trackingHandler {
	h := &trackingHandler{Echo: reactortest.NewEcho(), conns: map[int64]*reactor.Conn{}, opens: map[int64]int{}, closes: map[int64]int{}}
	h.closed = sync.NewCond(&h.mu)
	return h
}

func (h *trackingHandler) OnOpen(c *reactor.Conn) {
	h.mu.Lock()
	h.conns[int64(c.ID())] = c
	h.opens[int64(c.ID())]++
	h.mu.Unlock()
	reactortest.Greeter{}.OnOpen(c)
}

func (h *trackingHandler) OnClose(c *reactor.Conn, _ error) {
	h.mu.Lock()
	h.closes[int64(c.ID())]++
	h.closed.Broadcast()
	h.mu.Unlock()
}

func (h *trackingHandler) conn(id int64) *reactor.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[id]
}

func (h *trackingHandler) counts(id int64) (opens, closes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opens[id], h.closes[id]
}

// awaitClosed waits for conn id's OnClose, at most d.
func (h *trackingHandler) awaitClosed(id int64, d time.Duration) bool {
	timer := time.AfterFunc(d, func() {
		h.mu.Lock()
		h.closed.Broadcast()
		h.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(d)
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.closes[id] == 0 && time.Now().Before(deadline) {
		h.closed.Wait()
	}
	return h.closes[id] > 0
}
