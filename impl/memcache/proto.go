package memcache

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"time"
)

// Limits on a command line. memcached gives up on a line with no '\n' in its
// first 2048 bytes unless it is a get, whose key list is unbounded there; a
// bound is kept here so that a connection can never make the server buffer
// more than that.
const (
	DefaultMaxLine    = 2048
	DefaultMaxGetLine = 256 << 10
	keyMax            = 250
)

// ConnStats are the connection figures of the reactor under the cache,
// reported by stats with memcached's names.
type ConnStats struct {
	CurrConns, ConnStructures int64
	TotalConns, Rejected      uint64
	ListenDisabled, IdleKicks uint64
	BytesRead, BytesWritten   uint64
	// IO is the server core's backend, "epoll" or "uring".
	IO string
}

// Settings are the server-wide knobs the protocol reports or obeys.
type Settings struct {
	// Version is the reply to version; default "1.6.18". Clients parse it as
	// major.minor.patch and pick protocol features by it, so it names the
	// memcached release whose protocol this one follows.
	Version string
	// MaxLine bounds a command line (default DefaultMaxLine); MaxGetLine a
	// get, gets, gat or gats line (default DefaultMaxGetLine). A longer line
	// is answered with CLIENT_ERROR line too long and the connection closed.
	MaxLine, MaxGetLine int
	// ReqsPerEvent is memcached's -R: after this many commands in one call,
	// Process returns (once it has output to flush) so other connections get
	// their turn; default 20.
	ReqsPerEvent int
	// Verbosity is the level stats settings reports until a verbosity
	// command changes it: memcached's count of -v flags, at most 2.
	Verbosity int
	// FlushOff refuses flush_all (memcached's -F).
	FlushOff bool
	// Shutdown, when set (memcached's -A), is what the shutdown command
	// calls to stop the server; nil refuses the command.
	Shutdown func()
	// Log receives, at verbosity 2 (-vv, or the verbosity command), a line
	// per connection opened and closed, per command and per reply, in
	// memcached's words ("<28 get foo", ">28 sending key foo", ">28 END");
	// nil logs nothing.
	Log io.Writer
	// Binding is which protocols connections speak (memcached's -B): auto,
	// the zero value and memcached's default, lets each connection's first
	// byte choose.
	Binding Binding
	// PrefixDelimiter ends the prefix stats detail counts a key under
	// (memcached's -D); 0 is DefaultPrefixDelimiter. Detail starts stats
	// detail on, as -D does.
	PrefixDelimiter byte
	Detail          bool
	// NoWatch refuses the watch command (memcached's -W); WatcherBuffer is
	// each watcher's buffer in bytes (-o watcher_logbuf_size, in KiB
	// there), 0 for DefaultWatcherBuffer.
	NoWatch       bool
	WatcherBuffer int
	// NoDump refuses stats cachedump and lru_crawler metadump (memcached's
	// -X); CrawlerOff starts with the crawler stopped, as "lru_crawler
	// disable" stops it (-o no_lru_crawler, and -o no_modern).
	NoDump, CrawlerOff bool
	// SocketMask is the unix socket's mode (-a), for stats settings' umask;
	// 0 is memcached's default, 0700.
	SocketMask uint32
	// The rest are only reported by stats settings. TCPPort, Inter (-l) and
	// DomainSocket (-s) are the command line's words. MaxConns, Threads,
	// Backlog and IdleTimeout are the reactor's, and Protocol.OnBoot sets
	// them from the server it boots on, so that a program states each once.
	MaxConns, Threads, Backlog, TCPPort int
	Inter, DomainSocket                 string
	IdleTimeout                         time.Duration
	// ReservedFDs is the descriptors the program counts for itself, not
	// for connections, when it sets the open-file limit (stats:
	// reserved_fds, memcached's margin for its own fds).
	ReservedFDs int
}

// Cache is the state every connection shares: the store, the settings and
// the server-wide counters.
type Cache struct {
	store    *Store
	settings Settings
	// connStats reports the reactor's connection figures; nil reports zeros.
	connStats atomic.Pointer[func() ConnStats]
	started   time.Time
	verbosity atomic.Int32
	// crawlerOff is "lru_crawler disable": RunReaper pauses, and crawl and
	// metadump are refused, as memcached's are with its crawler stopped.
	crawlerOff atomic.Bool
	// crawling is set while an "lru_crawler crawl" runs in the background.
	crawling atomic.Bool
	detail   detailStats
	conns    connTable
	watchers watchers

	storeTooLarge, storeNoMemory, cmdMeta, connYields atomic.Uint64
}

// NewCache returns the shared state for connections over store. connStats
// may be nil.
func NewCache(store *Store, settings Settings, connStats func() ConnStats) *Cache {
	if settings.Version == "" {
		settings.Version = "1.6.18"
	}
	if settings.MaxLine <= 0 {
		settings.MaxLine = DefaultMaxLine
	}
	if settings.MaxGetLine < settings.MaxLine {
		settings.MaxGetLine = max(DefaultMaxGetLine, settings.MaxLine)
	}
	if settings.ReqsPerEvent <= 0 {
		settings.ReqsPerEvent = 20
	}
	if settings.PrefixDelimiter == 0 {
		settings.PrefixDelimiter = DefaultPrefixDelimiter
	}
	c := &Cache{store: store, settings: settings, started: store.clock()}
	store.onEvict = c.logEviction
	c.watchers.evictions = &store.logEvictions
	c.detail.on.Store(settings.Detail)
	c.crawlerOff.Store(settings.CrawlerOff)
	c.verbosity.Store(int32(min(max(settings.Verbosity, 0), 2)))
	c.SetConnStats(connStats)
	return c
}

// SetConnStats sets the source of the connection figures (the reactor, which
// is created after its handler); nil reports zeros.
func (c *Cache) SetConnStats(f func() ConnStats) {
	if f == nil {
		f = func() ConnStats { return ConnStats{} }
	}
	c.connStats.Store(&f)
}

// Store is the cache's store.
func (c *Cache) Store() *Store { return c.store }

// MaxInput is the most unconsumed input a connection can hold between calls
// of Process, on a reactor that reads readBuffer bytes at a time: a command
// line and the largest item's data block, less one byte, plus the read that
// brought them. The reactor's input limit must be at least this, or a legal
// command of the largest item closes the connection.
func (c *Cache) MaxInput(readBuffer int) int {
	return c.settings.MaxGetLine + c.store.itemMax + 2 + readBuffer
}

// RunReaper removes expired and flushed items every interval until ctx is
// done (memcached's LRU crawler does this job): lookups expire items lazily,
// and this returns the memory of items nobody asks for again.
func (c *Cache) RunReaper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !c.crawlerOff.Load() {
				c.store.Reap()
			}
		}
	}
}

// Session is one connection's protocol state. It is used by one goroutine at
// a time (the reactor calls a connection's handler from its worker only).
type Session struct {
	cache *Cache
	// swallow is how many bytes of a refused value are still to be
	// discarded; Invariant: swallow > 0 only between a refused storage
	// command and the end of its data block.
	swallow int64
	// sc is the parsing scratch space, shared by the connections of one
	// worker (SetScratch) so that an idle connection costs a few words.
	sc *Scratch
	// fd names the connection in the verbose log; spoke is set once its
	// first command was logged.
	fd    int
	spoke bool
	// suppressed is the reply the last command withheld under noreply.
	suppressed string
	// negotiated is set once the first byte chose the protocol; binary, if
	// it chose memcached's binary protocol, for the connection's life.
	negotiated, binary bool
	// conn is the session's entry in stats conns, once registered, and
	// its addresses for the connection log.
	conn *connInfo
	// wake calls Process again from another goroutine (SetWaker); watcher
	// is set once the connection sent watch, and then it is served no
	// command.
	wake    func() error
	watcher *watcher
	// quit is set by quit and shutdown, failed by any other command that
	// closes the connection (a protocol error): the close's reason.
	quit, failed bool
	// flushed is how much of Process's out memcached would have sent by
	// now: it sends what is pending after a retrieval and after mn, and
	// watch and metadump refuse to follow replies not yet sent.
	flushed int
}

// Scratch is parsing space for Process, reusable by any number of
// connections that are never processed at the same time (those of one
// reactor Worker).
type Scratch struct {
	toks [maxTokens][]byte
	mreq metaReq
	// value holds the value of the item being replied, copied out of the
	// store; it grows to the largest value replied, at most -I.
	value []byte
	// stats holds a binary stat command's figures in their text form
	// before they are framed.
	stats []byte
}

// SetScratch makes s parse in sc; without it s allocates its own on first
// use.
func (s *Session) SetScratch(sc *Scratch) { s.sc = sc }

// maxTokens bounds the words of any command but a retrieval (memcached's
// MAX_TOKENS is 24); a retrieval's keys are walked without tokenizing them.
const maxTokens = 24

// NewSession returns the protocol state for a new connection.
func (c *Cache) NewSession() *Session { return &Session{cache: c} }

// status is what a command handler tells the processing loop.
type status uint8

const (
	done     status = iota // the command and its data block were consumed
	needMore               // the data block has not all arrived: consume nothing
	closeNow               // reply, then close the connection
)

// Process handles as many complete commands of in as it can. Replies are
// appended to out. It stops early, leaving the rest for the next call, when
// a command is incomplete, when len(out) reaches outLimit (backpressure: the
// caller drains out first), or after ReqsPerEvent commands once out is not
// empty. It returns the bytes of in consumed, the extended out, and whether
// the connection must be closed after out is written.
func (s *Session) Process(in, out []byte, outLimit int) (int, []byte, bool) {
	if s.sc == nil {
		s.sc = new(Scratch)
	}
	if s.watcher != nil {
		n, out := s.watchStep(in, out, outLimit)
		return n, out, false
	}
	s.flushed = len(out)
	if !s.negotiated && len(in) > 0 {
		s.negotiated = true
		b := s.cache.settings.Binding
		s.binary = b == BindBinary || (b == BindAuto && in[0] == binReqMagic)
	}
	if s.conn != nil && len(in) > 0 {
		s.conn.last.Store(s.cache.store.now())
	}
	pos := 0
	reqs := 0
	for {
		if s.swallow > 0 {
			k := min(s.swallow, int64(len(in)-pos))
			pos += int(k)
			s.swallow -= k
			if s.swallow > 0 {
				return pos, out, false
			}
		}
		if pos == len(in) || len(out) >= outLimit {
			return pos, out, false
		}
		if reqs >= s.cache.settings.ReqsPerEvent && len(out) > 0 {
			s.cache.connYields.Add(1)
			return pos, out, false
		}
		var n int
		var st status
		if s.binary {
			out, n, st = s.binaryStep(in[pos:], out)
		} else {
			out, n, st = s.textStep(in[pos:], out)
		}
		switch st {
		case needMore:
			return pos, out, false
		case closeNow:
			s.failed = !s.quit
			return len(in), out, true
		}
		pos += n
		reqs++
		if s.watcher != nil {
			// Nothing after watch is served: memcached stops reading.
			return len(in), out, false
		}
	}
}

// textStep runs the text command at the start of rest. It returns the
// extended out, the bytes consumed (the line and any data block), and what
// Process does next.
func (s *Session) textStep(rest, out []byte) ([]byte, int, status) {
	nl := bytes.IndexByte(rest[:min(len(rest), s.cache.settings.MaxLine)], '\n')
	if nl < 0 && len(rest) > s.cache.settings.MaxLine && isRetrieval(rest) {
		nl = bytes.IndexByte(rest[:min(len(rest), s.cache.settings.MaxGetLine)], '\n')
		if nl < 0 && len(rest) <= s.cache.settings.MaxGetLine {
			return out, 0, needMore
		}
	}
	if nl < 0 {
		if len(rest) <= s.cache.settings.MaxLine {
			return out, 0, needMore
		}
		return append(out, "CLIENT_ERROR line too long\r\n"...), 0, closeNow
	}
	line := rest[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// The command line is logged at the verbosity before it runs, its
	// reply at the one after, as memcached logs verbosity 1 itself.
	before, verbose := len(out), s.verbose()
	s.suppressed = ""
	out, data, st := s.command(line, rest[nl+1:], out)
	if st != needMore && verbose {
		s.logCommand(line, out[before:], s.verbose())
	}
	return out, nl + 1 + data, st
}

// isRetrieval reports whether a line begins with a command whose key list may
// make it longer than MaxLine, judged from its first bytes.
func isRetrieval(b []byte) bool {
	b = bytes.TrimLeft(b[:min(len(b), 16)], " ")
	for _, p := range []string{"get ", "gets ", "gat ", "gats "} {
		if bytes.HasPrefix(b, []byte(p)) {
			return true
		}
	}
	return false
}

// tokenize splits line at spaces, as memcached does (tabs are part of a
// word), into s.sc.toks; it returns the words, and ok=false when there are
// more than maxTokens.
func (s *Session) tokenize(line []byte) ([][]byte, bool) {
	toks := s.sc.toks[:0]
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if len(toks) == maxTokens {
			return toks, false
		}
		toks = append(toks, line[i:j])
		i = j
	}
	return toks, true
}

// parseUint reads an unsigned decimal token of at most bits bits, with an
// optional leading '+', as memcached's safe_strtoul/safe_strtoull accept it.
func parseUint(b []byte, bits uint) (uint64, bool) {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1
	if bits == 64 {
		limit = 1<<64 - 1
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseInt32 reads a signed decimal token that fits in 32 bits (memcached's
// safe_strtol into an int32): value lengths.
func parseInt32(b []byte) (int64, bool) { return parseInt(b, 31) }

// parseExptime reads an exptime token. memcached parses it into 32 bits and
// silently truncates a larger one; here any 64-bit value is taken as meant:
// beyond 30 days it is an absolute unix time, however far in the future.
func parseExptime(b []byte) (int64, bool) { return parseInt(b, 63) }

// parseInt reads a signed decimal token whose magnitude fits in bits bits
// (the most negative value of the width included), with an optional sign.
func parseInt(b []byte, bits uint) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
			return 0, false
		}
	}
	n, ok := parseUint(b, bits+1)
	if !ok || n > 1<<bits || (n == 1<<bits && !neg) {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// noreply reports whether the last word is "noreply".
func noreply(toks [][]byte) bool {
	return len(toks) > 0 && string(toks[len(toks)-1]) == "noreply"
}

// countFailure counts a store refused for size or memory (store_too_large,
// store_no_memory).
func (c *Cache) countFailure(r Result) {
	switch r {
	case TooLarge:
		c.storeTooLarge.Add(1)
	case NoMemory:
		c.storeNoMemory.Add(1)
	}
}
