package memcache

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The watch command: memcached's log watchers. A connection that sends
// "watch [fetchers] [mutations] [evictions] [connevents] ..." is answered
// OK and from then on is served no command: it receives a line per event of
// the kinds it named (fetchers alone when it named none), in memcached's
// words:
//
//	ts=1700000000.123456 gid=7 type=item_get key=foo status=found clsid=1 cfd=28 size=3
//	ts=... gid=8 type=item_store key=foo status=stored cmd=set ttl=0 clsid=1 cfd=28 size=3
//	ts=... gid=9 type=eviction key=foo fetch=no ttl=-1 la=12 clsid=1 size=3
//	ts=... gid=10 type=conn_new rip=127.0.0.1 rport=40000 transport=tcp cfd=29
//	ts=... gid=11 type=conn_close rip=127.0.0.1 rport=40000 transport=tcp reason=normal cfd=29
//
// Each watcher has a buffer of Settings.WatcherBuffer bytes, as memcached's
// has: a line that does not fit is skipped, and counted, and the count is
// sent as "skipped=N" before the next line that fits. Lines go out on the
// watcher's own Worker (Session.SetWaker): the buffer is handed to the
// connection whenever the connection's output is under the reactor's bound,
// so neither grows without limit when the watcher reads slowly.

// watchFlags are the kinds of event a watcher asked for.
type watchFlags uint16

const (
	watchFetchers watchFlags = 1 << iota
	watchMutations
	watchEvictions
	watchConnEvents
	// The kinds memcached also takes but handoff logs nothing of: rawcmds
	// (which memcached 1.6.18 logs nothing of either), sysevents (its
	// crawler's and extstore's), and the proxy's.
	watchQuiet
)

// watchNames maps watch's arguments to their kinds.
var watchNames = map[string]watchFlags{
	"fetchers": watchFetchers, "mutations": watchMutations, "evictions": watchEvictions,
	"connevents": watchConnEvents, "rawcmds": watchQuiet, "sysevents": watchQuiet,
	"proxyreqs": watchQuiet, "proxyevents": watchQuiet, "proxyuser": watchQuiet,
}

// DefaultWatcherBuffer is memcached's watcher_logbuf_size, 256 KiB.
const DefaultWatcherBuffer = 256 << 10

// watcher is one watching connection.
type watcher struct {
	flags watchFlags
	// wake asks the connection's Worker to call Process, which hands buf
	// to the connection.
	wake func() error
	mu   sync.Mutex
	// buf is the lines not yet handed to the connection. Invariant:
	// len(buf) <= limit. skipped is the lines dropped since the last
	// "skipped=" line; kicked is set from a wake until the Worker takes
	// buf. All three are guarded by mu.
	buf     []byte
	limit   int
	skipped uint64
	kicked  bool
}

// watchers is the cache's set of watchers and the log stats.
type watchers struct {
	mu   sync.Mutex
	list []*watcher // guarded by mu; replaced, never changed in place
	// active is the union of the watchers' flags: an event no watcher
	// asked for costs one atomic load.
	active atomic.Uint32
	n      atomic.Int64  // log_watchers
	gid    atomic.Uint64 // the last line's gid
	// written counts the lines formatted, sent those a watcher's buffer
	// took, skipped those one had no room for (log_worker_written,
	// log_watcher_sent, log_watcher_skipped).
	written, sent, skipped atomic.Uint64
	// evictions is the store's switch for its eviction callback, kept
	// equal to wants(watchEvictions) under mu.
	evictions *atomic.Bool
}

func (ws *watchers) add(w *watcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.list = append(ws.list[:len(ws.list):len(ws.list)], w)
	ws.n.Add(1)
	ws.recompute()
}

func (ws *watchers) remove(w *watcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for i, x := range ws.list {
		if x == w {
			l := make([]*watcher, 0, len(ws.list)-1)
			ws.list = append(append(l, ws.list[:i]...), ws.list[i+1:]...)
			ws.n.Add(-1)
			break
		}
	}
	ws.recompute()
}

// recompute sets active from list; the caller holds mu.
func (ws *watchers) recompute() {
	var f watchFlags
	for _, w := range ws.list {
		f |= w.flags
	}
	ws.active.Store(uint32(f))
	if ws.evictions != nil {
		ws.evictions.Store(f&watchEvictions != 0)
	}
}

func (ws *watchers) wants(f watchFlags) bool { return watchFlags(ws.active.Load())&f != 0 }

// emit sends the line body writes (everything after "ts=... gid=N ") to
// every watcher of kind f.
func (ws *watchers) emit(f watchFlags, body func([]byte) []byte) {
	ws.mu.Lock()
	list := ws.list
	ws.mu.Unlock()
	var line []byte
	for _, w := range list {
		if w.flags&f == 0 {
			continue
		}
		if line == nil {
			now := time.Now()
			line = append(line, "ts="...)
			line = strconv.AppendInt(line, now.Unix(), 10)
			line = append(line, '.')
			line = strconv.AppendInt(line, int64(now.Nanosecond()/1000), 10)
			line = append(line, " gid="...)
			line = strconv.AppendUint(line, ws.gid.Add(1), 10)
			line = append(line, ' ')
			line = body(line)
			line = append(line, '\n')
			ws.written.Add(1)
		}
		if w.put(line) {
			ws.sent.Add(1)
		} else {
			ws.skipped.Add(1)
		}
	}
}

// put adds line to w's buffer, or counts it skipped, and wakes w's Worker
// unless a wake is outstanding.
func (w *watcher) put(line []byte) bool {
	w.mu.Lock()
	if w.skipped > 0 {
		note := strconv.AppendUint([]byte("skipped="), w.skipped, 10)
		note = append(note, '\n')
		if len(w.buf)+len(note)+len(line) <= w.limit {
			w.buf = append(w.buf, note...)
			w.skipped = 0
		}
	}
	ok := w.skipped == 0 && len(w.buf)+len(line) <= w.limit
	if ok {
		w.buf = append(w.buf, line...)
	} else {
		w.skipped++
	}
	kick := !w.kicked && len(w.buf) > 0
	w.kicked = w.kicked || kick
	w.mu.Unlock()
	if kick {
		// ErrClosed: the connection is going, and Close removes w.
		_ = w.wake()
	}
	return ok
}

// take appends w's buffered lines to out and empties the buffer; with
// full set (the connection's output is at its bound) it takes nothing and
// leaves the lines for a later wake. Either way the next put wakes the
// Worker again.
func (w *watcher) take(out []byte, full bool) []byte {
	w.mu.Lock()
	if !full {
		out = append(out, w.buf...)
		w.buf = w.buf[:0]
	}
	w.kicked = false
	w.mu.Unlock()
	return out
}

// stats appends the log_ keys of stats.
func (ws *watchers) stats(out []byte) []byte {
	// Lines are formatted by the goroutine of the event, straight into the
	// watchers' buffers: there is no worker buffer to drop from.
	out = stat(out, "log_worker_dropped", 0)
	out = stat(out, "log_worker_written", ws.written.Load())
	out = stat(out, "log_watcher_skipped", ws.skipped.Load())
	out = stat(out, "log_watcher_sent", ws.sent.Load())
	return statInt(out, "log_watchers", ws.n.Load())
}

// SetWaker gives s the means to be called again from another goroutine
// (the reactor's Conn.Wake): a watcher needs it to be sent its lines. A
// Session without one answers watch with memcached's WATCHER_FAILED.
func (s *Session) SetWaker(wake func() error) { s.wake = wake }

// Watching reports whether s is a watcher: it is served no more commands,
// and Process hands it its lines.
func (s *Session) Watching() bool { return s.watcher != nil }

// watch runs "watch [kind ...]".
func (s *Session) watch(toks [][]byte, out []byte) []byte {
	if s.cache.settings.NoWatch {
		return append(out, "CLIENT_ERROR watch commands not allowed\r\n"...)
	}
	var f watchFlags
	for _, t := range toks[1:] {
		k, ok := watchNames[string(t)]
		if !ok {
			return append(out, replyError...)
		}
		f |= k
	}
	if len(toks) == 1 {
		f = watchFetchers
	}
	if len(out) > s.flushed {
		// Replies not yet sent would be interleaved with the lines.
		return append(out, "ERROR cannot pipeline other commands before watch\r\n"...)
	}
	if s.wake == nil {
		return append(out, "WATCHER_FAILED failed to add log watcher\r\n"...)
	}
	limit := s.cache.settings.WatcherBuffer
	if limit <= 0 {
		limit = DefaultWatcherBuffer
	}
	s.watcher = &watcher{flags: f, wake: s.wake, limit: limit}
	s.cache.watchers.add(s.watcher)
	return append(out, "OK\r\n"...)
}

// watchStep is Process for a watcher: its input is discarded, as memcached
// stops reading a watcher, and its buffered lines are appended to out when
// out is under outLimit. A watcher that does not read so holds at most its
// buffer here and the reactor's output bound in its connection: what does
// not fit is skipped, as memcached skips it.
func (s *Session) watchStep(in, out []byte, outLimit int) (int, []byte) {
	return len(in), s.watcher.take(out, len(out) >= outLimit)
}

// The events. Each checks that a watcher wants it before it formats
// anything.

// logFetch logs a lookup of key (memcached's item_get): found, the item's
// class and value length; not found, class and size 0.
func (s *Session) logFetch(key []byte, found bool, size int) {
	ws := &s.cache.watchers
	if !ws.wants(watchFetchers) {
		return
	}
	cls := 0
	status := "not_found"
	if found {
		status = "found"
		cls = s.cache.store.classOf(len(key), size)
	} else {
		size = 0
	}
	ws.emit(watchFetchers, func(b []byte) []byte {
		b = append(b, "type=item_get key="...)
		b = appendURIEncoded(b, key)
		b = append(b, " status="...)
		b = append(b, status...)
		return appendClassConnSize(b, cls, s.fd, size)
	})
}

// logFetchOf logs the lookup a storage command makes before it stores, as
// memcached's does (an item_get line, then the item_store line).
func (s *Session) logFetchOf(key []byte) {
	if !s.cache.watchers.wants(watchFetchers) {
		return
	}
	// The session's value scratch, free during a storage command, takes
	// the copy Peek makes.
	v, ok := s.cache.store.Peek(key, s.sc.value)
	if ok {
		s.sc.value = v.Value[:0]
	}
	s.logFetch(key, ok, len(v.Value))
}

// storeCmd is item_store's name for a storage request: a set or replace
// with a unique is the cas command.
func storeCmd(req SetReq) string {
	if req.HasCAS && (req.Mode == ModeSet || req.Mode == ModeReplace) {
		return "cas"
	}
	return [...]string{ModeSet: "set", ModeAdd: "add", ModeReplace: "replace", ModeAppend: "append", ModePrepend: "prepend"}[req.Mode]
}

// storeNames are item_store's words for a Result.
var storeNames = [...]string{Stored: "stored", NotStored: "not_stored", Exists: "exists", NotFound: "not_found", TooLarge: "too_large", NoMemory: "no_memory"}

// appendClassConnSize ends an item line: " clsid=C cfd=F size=N".
func appendClassConnSize(b []byte, cls, fd, size int) []byte {
	b = append(b, " clsid="...)
	b = strconv.AppendInt(b, int64(cls), 10)
	b = append(b, " cfd="...)
	b = strconv.AppendInt(b, int64(fd), 10)
	b = append(b, " size="...)
	return strconv.AppendInt(b, int64(size), 10)
}

// logStore logs a storage command's outcome (memcached's item_store): cmd
// is its name, exptime its protocol value.
func (s *Session) logStore(cmd string, key []byte, res Result, exptime int64, size int) {
	ws := &s.cache.watchers
	if !ws.wants(watchMutations) || int(res) >= len(storeNames) || storeNames[res] == "" {
		return
	}
	now := s.cache.store.now()
	ttl := int64(0)
	if abs := s.cache.store.absExptime(exptime, now); abs != 0 {
		ttl = max(abs-now, 0)
	}
	cls := s.cache.store.classOf(len(key), size)
	ws.emit(watchMutations, func(b []byte) []byte {
		b = append(b, "type=item_store key="...)
		b = appendURIEncoded(b, key)
		b = append(b, " status="...)
		b = append(b, storeNames[res]...)
		b = append(b, " cmd="...)
		b = append(b, cmd...)
		b = append(b, " ttl="...)
		b = strconv.AppendInt(b, ttl, 10)
		return appendClassConnSize(b, cls, s.fd, size)
	})
}

// logEviction logs a live item evicted to make room (memcached's eviction
// line); the store calls it under the item's locks.
func (c *Cache) logEviction(e *Evicted) {
	ws := &c.watchers
	if !ws.wants(watchEvictions) {
		return
	}
	ws.emit(watchEvictions, func(b []byte) []byte {
		b = append(b, "type=eviction key="...)
		b = appendURIEncoded(b, e.Key)
		b = append(b, " fetch="...)
		b = append(b, yesNo(e.Fetched)...)
		b = append(b, " ttl="...)
		b = strconv.AppendInt(b, e.TTL, 10)
		b = append(b, " la="...)
		b = strconv.AppendInt(b, e.Idle, 10)
		b = append(b, " clsid="...)
		b = strconv.AppendInt(b, int64(e.Class), 10)
		b = append(b, " size="...)
		return strconv.AppendInt(b, int64(e.Size), 10)
	})
}

// Why a connection closed, in conn_close's words.
const (
	CloseNormal  = "normal"
	CloseError   = "error"
	CloseIdle    = "idle_timeout"
	CloseStopped = "shutdown"
)

// logConn logs a connection opened (conn_new) or, with a reason, closed
// (conn_close).
func (s *Session) logConn(reason string) {
	ws := &s.cache.watchers
	if !ws.wants(watchConnEvents) {
		return
	}
	rip, rport, transport := "unix", 0, "local"
	if a, ok := s.conn.addrs.RemoteAddr().(*net.TCPAddr); ok {
		rip, rport, transport = a.IP.String(), a.Port, "tcp"
	}
	ws.emit(watchConnEvents, func(b []byte) []byte {
		if reason == "" {
			b = append(b, "type=conn_new rip="...)
		} else {
			b = append(b, "type=conn_close rip="...)
		}
		b = append(b, rip...)
		b = append(b, " rport="...)
		b = strconv.AppendInt(b, int64(rport), 10)
		b = append(b, " transport="...)
		b = append(b, transport...)
		if reason != "" {
			b = append(b, " reason="...)
			b = append(b, reason...)
		}
		b = append(b, " cfd="...)
		return strconv.AppendInt(b, int64(s.fd), 10)
	})
}
