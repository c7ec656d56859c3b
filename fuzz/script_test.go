package fuzz

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// Script bounds: every input runs in well under a second.
const (
	maxScriptOps  = 96
	maxScriptOpen = 12
	maxPayload    = 8 << 10
)

// client is one scripted connection.
type client struct {
	c      net.Conn
	r      *bufio.Reader
	id     int64
	worker int
}

// scriptConfig reads the server's design from the input's first byte:
// notify (bit 0), wake-up (bit 1) and 1–4 Workers (bits 2–3).
func scriptConfig(b byte) (reactor.Notify, reactor.Wakeup, int) {
	nt, wk := reactor.NotifyPipe, reactor.WakeupPerConn
	if b&1 != 0 {
		nt = reactor.NotifyEventfd
	}
	if b&2 != 0 {
		wk = reactor.WakeupCoalesced
	}
	return nt, wk, 1 + int(b>>2)%4
}

// FuzzReactorScript runs the input as a script against a live reactor.
// After the first byte (the design), each byte is an operation on the
// low two bits: 0 connect, 1 send (the next byte says to which open
// connection and the one after how many bytes, an echo that must come back
// intact), 2 close a connection, 3 send on every open connection at once.
// Every connect must be served, exactly once, by worker id mod N (P1
// exactly-once, P2 round-robin); each worker must register in dispatch
// order (P3 per-worker FIFO); and the whole trace must replay through the
// model (spec/SPEC.md).
func FuzzReactorScript(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 16})
	f.Add([]byte{7, 0, 0, 0, 3, 1, 1, 200, 2, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		nt, wk, n := scriptConfig(data[0])
		trace := &model.Trace{}
		cfg := reactor.Config{Workers: n, Notify: nt, Wakeup: wk, Trace: trace.Record}
		s := reactortest.Serve(t, cfg, reactortest.Greeter{})
		var open, all []*client
		addr := s.Addrs()[0]
		defer func() {
			for _, c := range open {
				c.c.Close()
			}
		}()
		ops := data[1:]
		next := func(i *int) byte {
			*i++
			if *i < len(ops) {
				return ops[*i]
			}
			return 0
		}
		for i := 0; i < len(ops) && i < maxScriptOps; i++ {
			switch ops[i] & 3 {
			case 0:
				if len(open) >= maxScriptOpen {
					continue
				}
				c, err := connect(addr)
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(len(all)); c.id != want {
					t.Fatalf("P1: connect #%d was numbered %d", want, c.id)
				}
				if c.worker != int(c.id)%n {
					t.Fatalf("P2: conn %d served by worker %d, want %d mod %d", c.id, c.worker, c.id, n)
				}
				open = append(open, c)
				all = append(all, c)
			case 1:
				if len(open) == 0 {
					continue
				}
				c := open[int(next(&i))%len(open)]
				size := 1 + int(next(&i))*int(ops[0]|1)%maxPayload
				if err := echo(c, payload(c.id, i, size)); err != nil {
					t.Fatal(err)
				}
			case 2:
				if len(open) == 0 {
					continue
				}
				k := int(ops[i]>>2) % len(open)
				open[k].c.Close()
				open = slices.Delete(open, k, k+1)
			case 3:
				if err := echoAll(open, i); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, c := range open {
			c.c.Close()
		}
		open = nil
		st := awaitClosed(t, s, len(all))
		events := trace.Events()
		var served []model.Served
		for _, c := range all {
			served = append(served, model.Served{Conn: c.id, Worker: c.worker})
		}
		if err := model.CheckTrace(events, model.TraceCheck{Workers: n, RoundRobin: true, Closed: true, Clients: served}); err != nil {
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
		res, err := model.Replay(d, n, 1, events)
		if err != nil {
			t.Fatal(err)
		}
		if res.Refused != nil {
			t.Fatalf("%s: %v", d.Name, res.Refused)
		}
		for w, ws := range st.Workers {
			if uint64(res.Registered()[w]) != ws.TotalConns {
				t.Fatalf("worker %d: model registered %d, Stats %d", w, res.Registered()[w], ws.TotalConns)
			}
		}
	})
}

// connect dials, reads the greeting and returns the connection.
func connect(addr net.Addr) (*client, error) {
	g, err := reactortest.Dial(addr)
	if err != nil {
		return nil, err
	}
	return &client{c: g.Conn, r: g.R, worker: g.Worker, id: int64(g.ID)}, nil
}

// payload is size bytes that differ between connections and operations, so
// that an echo sent to the wrong connection or out of order is noticed.
func payload(id int64, op, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(int(id)*31 + op*7 + i)
	}
	return p
}

// echo sends p on c and requires exactly p back.
func echo(c *client, p []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.c.Write(p)
		errc <- err
	}()
	got := make([]byte, len(p))
	if _, err := io.ReadFull(c.r, got); err != nil {
		return fmt.Errorf("conn %d: echo of %d bytes: %w", c.id, len(p), err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("conn %d: write: %w", c.id, err)
	}
	if !bytes.Equal(got, p) {
		return fmt.Errorf("conn %d: echo of %d bytes came back changed", c.id, len(p))
	}
	return nil
}

// echoAll sends a payload on every open connection at once, then checks
// every echo: the Workers serve them concurrently.
func echoAll(open []*client, op int) error {
	errs := make(chan error, len(open))
	for _, c := range open {
		go func() { errs <- echo(c, payload(c.id, op, 512)) }()
	}
	var first error
	for range open {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// awaitClosed waits until conns connections were registered and closed.
func awaitClosed(t *testing.T, s *reactor.Server, conns int) reactor.Stats {
	t.Helper()
	reactortest.WaitFor(t, fmt.Sprintf("P1: all %d connections registered and closed", conns), func() bool {
		st := s.Stats()
		return st.TotalConns == uint64(conns) && st.CurrConns == 0
	})
	return s.Stats()
}
