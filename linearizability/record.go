package linearizability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/model"
)

// Setup is the server and the load one recorded run uses.
type Setup struct {
	// Workers and Acceptors size the server (Config.Workers, Config.Acceptors).
	Workers, Acceptors int
	// Notify and Wakeup select the hand-off design; zero means the defaults.
	// With IO uring they do not apply: the hand-off is msgring.
	Notify reactor.Notify
	Wakeup reactor.Wakeup
	// IO is the backend (Config.IO); "" is the default.
	IO reactor.IO
	// Clients is the number of concurrent client goroutines; Ops the number
	// of connects they make in all, each on a fresh connection.
	Clients, Ops int
}

// Run is what a recorded run observed.
type Run struct {
	Setup Setup
	// Connects holds one operation per connect: called before the dial,
	// returned once the greeting was read; output Connect.
	Connects []porcupine.Operation
	// Trace is the reactor's trace in the order the hook was called.
	Trace []model.Event
	// Stats is the server's counters once every connection had closed.
	Stats reactor.Stats
}

// greeter tells each client the Worker that serves it and its sequence
// number, "w=W id=I\n", in OnOpen, then closes when the client does.
type greeter struct{}

func (greeter) OnOpen(c *reactor.Conn) {
	_ = c.Write(fmt.Appendf(nil, "w=%d id=%d\n", c.Worker(), c.ID()))
}

func (greeter) OnData(_ *reactor.Conn, in []byte) int { return len(in) }

func (greeter) OnClose(*reactor.Conn, error) {}

// Record serves a reactor for st on 127.0.0.1 with the trace hook on, runs
// st.Ops connects from st.Clients goroutines, waits until every connection
// was registered and closed, and stops the server. Every loop is bounded by
// st.Ops and every wait by a deadline.
func Record(ctx context.Context, st Setup) (*Run, error) {
	trace := model.NewTrace(8 * st.Ops)
	cfg := reactor.Config{
		Listen:    []string{"tcp://127.0.0.1:0"},
		Workers:   st.Workers,
		Acceptors: st.Acceptors,
		IO:        st.IO,
		Notify:    st.Notify,
		Wakeup:    st.Wakeup,
		MaxConns:  max(1024, 2*st.Clients),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Trace:     trace.Record,
	}
	s, err := reactor.New(cfg, greeter{})
	if err != nil {
		return nil, err
	}
	stop := serve(s)
	run := &Run{Setup: st}
	ops, recErr := connects(ctx, s.Addrs()[0].String(), st)
	if recErr == nil {
		recErr = awaitClosed(ctx, s, st.Ops)
	}
	run.Stats = s.Stats()
	if recErr = stop(recErr); recErr != nil {
		return nil, recErr
	}
	run.Trace = trace.Events()
	run.Connects = ops
	return run, nil
}

// connects runs the clients and returns one operation per connect.
func connects(ctx context.Context, addr string, st Setup) ([]porcupine.Operation, error) {
	start := time.Now()
	var next atomic.Int64
	var mu sync.Mutex
	ops := make([]porcupine.Operation, 0, st.Ops)
	var firstErr error
	var wg sync.WaitGroup
	for client := range st.Clients {
		wg.Go(func() {
			d := net.Dialer{Timeout: 10 * time.Second}
			for next.Add(1) <= int64(st.Ops) {
				call := time.Since(start).Nanoseconds()
				out, err := connectOnce(ctx, &d, addr)
				ret := time.Since(start).Nanoseconds()
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				ops = append(ops, porcupine.Operation{ClientId: client, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ops, firstErr
}

// connectOnce dials addr, reads the greeting and closes.
func connectOnce(ctx context.Context, d *net.Dialer, addr string) (Connect, error) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Connect{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return Connect{}, fmt.Errorf("greeting: %w (got %q)", err, line)
	}
	var out Connect
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "w=%d id=%d", &out.Worker, &out.Conn); err != nil {
		return Connect{}, fmt.Errorf("greeting %q: %w", line, err)
	}
	return out, nil
}

// awaitClosed waits until ops connections were registered and closed, so
// that the trace holds every event of the run.
func awaitClosed(ctx context.Context, s *reactor.Server, ops int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()
		if st.TotalConns == uint64(ops) && st.CurrConns == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d connections registered, %d still open", st.TotalConns, ops, st.CurrConns)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// QueueHistory turns a trace into operations on the Workers' queues, with
// the trace position as the clock (the hook's calls are serialized, so
// position order is real-time order). An enqueue of c is the interval from
// Accept(c) to Dispatch(c): the Acceptor holds c over it and pushes inside
// it. A dequeue is the interval from the Worker's previous event (its Wake
// or its last Register) to Register(c), the Pop inside it; its output is
// the connection popped. In the visualization the Worker is client 0 and
// Acceptor a client 1+a. Both intervals contain the push or pop, and wider
// ones than the single event let porcupine choose the order itself.
//
// With ring set (the io_uring backend, model/'s msgring) an enqueue is the
// Dispatch event alone: the kernel's post of the Acceptor's MSG_RING,
// which only the Worker sees, and traces in its CQ's order when it reaps.
// Its true interval, from the submission, is not traced; Accept(c) to it
// would span every post the Worker has not yet reaped, and porcupine's
// search with them.
func QueueHistory(trace []model.Event, ring bool) []porcupine.Operation {
	acceptedAt := map[int64]int64{}
	lastAt := map[int]int64{}
	popped := map[int]struct {
		at   int64
		conn int64
	}{}
	var ops []porcupine.Operation
	for i, e := range trace {
		t := int64(i)
		switch e.Kind {
		case model.Accept:
			acceptedAt[e.Conn] = t
		case model.Dispatch:
			call, ok := acceptedAt[e.Conn]
			if !ok || ring {
				call = t
			}
			ops = append(ops, porcupine.Operation{ClientId: 1 + e.Acceptor, Call: call, Return: t,
				Input: QueueOp{Worker: e.Worker, Enqueue: true, Conn: e.Conn}, Output: int64(-1)})
		case model.Pop:
			call, ok := lastAt[e.Worker]
			if !ok {
				call = t
			}
			// Strictly after the previous event: a closed interval ending
			// where the next begins would make two dequeues concurrent.
			call = min(call+1, t)
			popped[e.Worker] = struct{ at, conn int64 }{call, e.Conn}
		case model.Register:
			if p, ok := popped[e.Worker]; ok {
				ops = append(ops, porcupine.Operation{ClientId: 0, Call: p.at, Return: t,
					Input: QueueOp{Worker: e.Worker}, Output: p.conn})
				delete(popped, e.Worker)
			}
		}
		if e.Kind == model.Wake || e.Kind == model.Register {
			lastAt[e.Worker] = t
		}
	}
	// A pop whose Register was not traced still took its connection.
	for w, p := range popped {
		ops = append(ops, porcupine.Operation{ClientId: 0, Call: p.at, Return: int64(len(trace)),
			Input: QueueOp{Worker: w}, Output: p.conn})
	}
	return ops
}

// serve starts s serving, and returns stop, which shuts it down and returns
// the recording's error err, or else Shutdown's, or else Serve's.
func serve(s *reactor.Server) (stop func(err error) error) {
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	return func(err error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if e := s.Shutdown(ctx); e != nil && err == nil {
			err = fmt.Errorf("shutdown: %w", e)
		}
		if e := <-served; !errors.Is(e, reactor.ErrServerClosed) && err == nil {
			err = fmt.Errorf("serve: %w", e)
		}
		return err
	}
}
