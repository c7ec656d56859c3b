package memcache

import "github.com/handoffd/handoff/impl/reactor"

// maxScratchOut bounds the reply buffer a Worker keeps between callbacks; a
// larger one (a multi-get of big values) is dropped after use.
const maxScratchOut = 4 << 20

// Protocol serves the memcached protocol on a reactor: one Session per
// connection, kept in the connection's context, and one reply buffer and
// parsing scratch per Worker, so an idle connection holds no buffer.
type Protocol struct {
	cache *Cache
	// maxOutput is the reactor's MaxOutput: a callback stops producing
	// replies when the connection's buffered output would pass it.
	maxOutput int
	// workers[i] is touched only by Worker i's goroutine.
	workers []workerScratch
}

type workerScratch struct {
	out []byte
	sc  Scratch
}

// NewProtocol returns the Protocol for cache on a reactor with workers
// Workers and maxOutput MaxOutput (they must be the values the reactor will
// use; zero selects the reactor's defaults).
func NewProtocol(cache *Cache, workers, maxOutput int) *Protocol {
	if maxOutput <= 0 {
		maxOutput = 4 << 20
	}
	return &Protocol{cache: cache, maxOutput: maxOutput, workers: make([]workerScratch, max(workers, 1))}
}

// OnOpen gives the connection its protocol state.
func (p *Protocol) OnOpen(c *reactor.Conn) { c.SetContext(p.cache.NewSession()) }

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
func (p *Protocol) OnClose(c *reactor.Conn, _ error) { c.SetContext(nil) }

func (p *Protocol) scratch(w int) *workerScratch {
	if w < 0 || w >= len(p.workers) {
		// A reactor with more Workers than the Protocol was told about still
		// works, with a buffer per call.
		return &workerScratch{}
	}
	return &p.workers[w]
}

// ConnStatsOf adapts a reactor's Stats to the figures stats reports.
func ConnStatsOf(s *reactor.Server) func() ConnStats {
	return func() ConnStats {
		st := s.Stats()
		return ConnStats{
			CurrConns:      st.CurrConns,
			ConnStructures: st.CurrConns,
			TotalConns:     st.TotalConns,
			Rejected:       st.Rejected,
			ListenDisabled: st.ListenDisabled,
			IdleKicks:      st.IdleClosed,
			BytesRead:      st.BytesIn,
			BytesWritten:   st.BytesOut,
		}
	}
}
