package memcache

import (
	"errors"
	"fmt"

	"github.com/handoffd/handoff/impl/reactor"
)

// maxScratchOut bounds the reply buffer a Worker keeps between callbacks; a
// larger one (a multi-get of big values) is dropped after use.
const maxScratchOut = 4 << 20

// Protocol serves the memcached protocol on a reactor: one Session per
// connection, kept in the connection's context, and one reply buffer and
// parsing scratch per Worker, so an idle connection holds no buffer. It
// learns its server in OnBoot: the Workers to keep scratch for, the output
// bound, and the connection figures stats reports.
type Protocol struct {
	cache *Cache
	// maxOutput is the reactor's MaxOutput: a callback stops producing
	// replies when the connection's buffered output would pass it. Set by
	// OnBoot, before any connection.
	maxOutput int
	// workers[i] is touched only by Worker i's goroutine; set by OnBoot.
	workers []workerScratch
}

type workerScratch struct {
	out []byte
	sc  Scratch
}

// NewProtocol returns the Protocol for cache. Give it to reactor.New with a
// Config from Protocol.Config.
func NewProtocol(cache *Cache) *Protocol { return &Protocol{cache: cache} }

// Config returns base with the reactor's defaults applied and MaxInput
// raised to what the cache's largest legal command needs (Cache.MaxInput at
// base's ReadBuffer), so that no command of an item at the size limit closes
// its connection.
func (p *Protocol) Config(base reactor.Config) (reactor.Config, error) {
	cfg, err := base.WithDefaults()
	if err != nil {
		return base, err
	}
	cfg.MaxInput = max(cfg.MaxInput, p.cache.MaxInput(cfg.ReadBuffer))
	return cfg, nil
}

// OnBoot takes what the Protocol needs of its server: its Workers, its
// output bound and its connection figures, and the settings stats reports
// of it (Threads, MaxConns, Backlog, IdleTimeout). It refuses a server whose
// input bound would close a legal command of the largest item.
func (p *Protocol) OnBoot(s *reactor.Server) error {
	cfg := s.Config()
	if need := p.cache.MaxInput(cfg.ReadBuffer); cfg.MaxInput < need {
		return fmt.Errorf("memcache: reactor MaxInput %d is below the %d a command of the largest item needs (use Protocol.Config)", cfg.MaxInput, need)
	}
	p.maxOutput = cfg.MaxOutput
	p.workers = make([]workerScratch, cfg.Workers)
	// No connection is served before OnBoot returns, so no stats command
	// reads the settings while they change.
	set := &p.cache.settings
	set.Threads, set.MaxConns, set.Backlog, set.IdleTimeout = cfg.Workers, cfg.MaxConns, cfg.Backlog, cfg.IdleTimeout
	p.cache.SetConnStats(connStatsOf(s))
	return nil
}

// OnOpen gives the connection its protocol state. A Protocol whose OnBoot
// never ran (a wrapping handler that did not pass it on) knows neither its
// Workers nor its output bound, and closes every connection rather than
// serve it without them.
func (p *Protocol) OnOpen(c *reactor.Conn) {
	if p.workers == nil {
		_ = c.Close()
		return
	}
	s := p.cache.NewSession()
	s.SetFd(c.Fd())
	s.RegisterConn(c)
	s.SetWaker(c.Wake)
	c.SetContext(s)
}

// OnData runs the complete commands of in and writes their replies.
//
// Process returns early when the replies pass the output budget or after
// ReqsPerEvent commands. If the socket took every byte the loop goes on, as
// nothing would re-offer the rest; if output is pending, OnData returns and
// the reactor offers the rest once the output drains.
func (p *Protocol) OnData(c *reactor.Conn, in []byte) int {
	s, ok := c.Context().(*Session)
	if !ok {
		_ = c.Close()
		return len(in)
	}
	ws := p.scratch(c.Worker())
	s.SetScratch(&ws.sc)
	if s.Watching() {
		// A watcher's lines, handed over while its output is under the
		// bound; its input is discarded.
		n, out, _ := s.Process(in, ws.out[:0], p.maxOutput-c.OutputLen())
		if len(out) > 0 {
			_ = c.Write(out)
		}
		ws.out = out[:0]
		return n
	}
	consumed := 0
	for consumed < len(in) {
		budget := p.maxOutput - c.OutputLen()
		n, out, closeNow := s.Process(in[consumed:], ws.out[:0], budget)
		consumed += n
		if len(out) > 0 {
			if err := c.Write(out); err != nil {
				return len(in)
			}
		}
		ws.out = out[:0]
		if cap(ws.out) > maxScratchOut {
			ws.out = nil
		}
		if closeNow {
			_ = c.Close()
			return len(in)
		}
		if n == 0 || c.OutputLen() > 0 {
			break
		}
	}
	return consumed
}

// OnClose drops the connection's protocol state.
func (p *Protocol) OnClose(c *reactor.Conn, err error) {
	if s, ok := c.Context().(*Session); ok {
		reason := CloseNormal
		switch {
		case errors.Is(err, reactor.ErrIdleTimeout):
			reason = CloseIdle
		case errors.Is(err, reactor.ErrServerClosed):
			reason = CloseStopped
		case err != nil:
			reason = CloseError
		}
		s.Close(reason)
	}
	c.SetContext(nil)
}

func (p *Protocol) scratch(w int) *workerScratch {
	if w < 0 || w >= len(p.workers) {
		// Only a Worker of another server than the one booted gets here; it
		// still works, with a buffer per call.
		return &workerScratch{}
	}
	return &p.workers[w]
}

// connStatsOf adapts a reactor's Stats to the figures stats reports.
func connStatsOf(s *reactor.Server) func() ConnStats {
	return func() ConnStats {
		st := s.Stats()
		return ConnStats{
			CurrConns:      st.CurrConns,
			ConnStructures: st.CurrConns,
			IO:             st.IO,
			TotalConns:     st.TotalConns,
			Rejected:       st.Rejected,
			ListenDisabled: st.ListenDisabled,
			IdleKicks:      st.IdleClosed,
			BytesRead:      st.BytesIn,
			BytesWritten:   st.BytesOut,
		}
	}
}
