// Command gnet is handoff-bench's gnet v2 peer: the same memcached answers as
// the floor and the Go net server, on gnet's event loops. gnet hands accepted
// connections from its acceptor to its loops through a queue and an eventfd,
// the design handoff's reactor is built on, so it is the closest Go peer.
//
//	gnet -p PORT -loops 2
//
// It lives in its own module so that the main module never depends on gnet.
// SIGTERM or SIGINT stops it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/handoffd/handoff/bench/answer"
)

// server answers every connection's requests from one shared store.
type server struct {
	gnet.BuiltinEventEngine
	store *answer.Store
	eng   gnet.Engine
}

func (s *server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	return gnet.None
}

// OnTraffic answers every complete request buffered for c. Peek returns
// gnet's view of the inbound bytes without copying; what is not consumed
// stays in c's inbound buffer for the next event. The reply is built in the
// pooled buffer, which Write sends at once or copies into c's outbound
// buffer.
func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	bp := replies.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			replies.Put(bp)
		}
	}()
	in, _ := c.Peek(-1)
	used, out, closeNow := s.store.Answer(in, (*bp)[:0])
	*bp = out
	if _, err := c.Discard(used); err != nil {
		return gnet.Close
	}
	if len(in)-used > answer.MaxLine+answer.MaxValue+2 {
		return gnet.Close
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return gnet.Close
		}
	}
	if closeNow {
		return gnet.Close
	}
	return gnet.None
}

// replies holds reply buffers: gnet gives a handler no per-loop state, and
// a buffer kept per connection would be what an idle connection costs.
var replies = sync.Pool{New: func() any { return new([]byte) }}

func main() {
	port := flag.Int("p", 11211, "TCP `port` on 127.0.0.1")
	loops := flag.Int("loops", runtime.NumCPU(), "event loops")
	flag.Parse()
	s := &server{store: answer.NewStore()}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.eng.Stop(sctx)
	}()
	err := gnet.Run(s, fmt.Sprintf("tcp://127.0.0.1:%d", *port),
		gnet.WithMulticore(true), gnet.WithNumEventLoop(*loops), gnet.WithReusePort(false))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gnet: %v\n", err)
		os.Exit(1)
	}
}
