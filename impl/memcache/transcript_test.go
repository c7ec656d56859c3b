package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// A transcript file (testdata/*.txt) holds cases:
//
//	=== name [memcached] [noreset]
//	> request bytes, one read each (escapes: \r \n \t \\ \xNN)
//	repeat N c     a read of N bytes c
//	clock +N       advance the fake clock by N seconds
//	< expected reply bytes (concatenated across lines, escapes as above)
//	closed         the server closes the connection after the replies
//
// Two forms let a case hold what differs from server to server and from
// second to second: \# in a reply stands for any decimal number of one digit
// or more (a CAS unique, which memcached numbers across every case it has
// run, or the low digits of a TTL read back while its clock ticks), and
// $cas in a request is replaced, when it is sent, by the CAS unique of the
// last reply that carried one (a gets VALUE line, or a meta reply's c flag).
//
// Every case runs on a fresh store (64 MiB, 1 MiB items) whose clock starts at
// transcriptEpoch. Cases marked "memcached" are also replayed, unchanged,
// against a real memcached when MEMCACHED_ADDR is set (for example
// MEMCACHED_ADDR=127.0.0.1:21211 with memcached -p 21211 -U 0 started just
// before, since the replay relies on fresh keys): that is how the expected
// bytes were checked against memcached 1.6.18.
type transcript struct {
	caseHeader
	steps  []step
	want   []byte
	holes  []int // offsets in want where a number stands (\#), ascending
	closed bool
}

type step struct {
	data  []byte // a read
	clock int64  // or a clock advance
}

// casVar is the request's stand-in for the last CAS unique replied.
var casVar = []byte("$cas")

// needsCAS reports whether the read must wait for the replies before it.
func (s step) needsCAS() bool { return bytes.Contains(s.data, casVar) }

// with returns the read as sent after the replies out.
func (s step) with(out []byte) []byte {
	if !s.needsCAS() {
		return s.data
	}
	return bytes.ReplaceAll(s.data, casVar, lastCAS(out))
}

// lastCAS returns the CAS unique of the last reply in out that carries one:
// "VALUE key flags bytes cas" or a meta reply's c flag.
func lastCAS(out []byte) []byte {
	var cas []byte
	for _, l := range bytes.Split(out, []byte("\r\n")) {
		f := bytes.Fields(l)
		switch {
		case len(f) == 5 && string(f[0]) == "VALUE":
			cas = f[4]
		case len(f) > 0 && (string(f[0]) == "VA" || string(f[0]) == "HD"):
			for _, flag := range f[1:] {
				if flag[0] == 'c' {
					cas = flag[1:]
				}
			}
		}
	}
	return cas
}

// wanted renders the expected reply for a failure's message, \# at each
// hole.
func (tr *transcript) wanted() []byte {
	var b []byte
	w := 0
	for _, h := range tr.holes {
		b = append(append(b, tr.want[w:h]...), `\#`...)
		w = h
	}
	return trim(append(b, tr.want[w:]...))
}

// matches reports whether got is the case's reply, a number where a hole
// is; with prefix, whether got is the start of it (a reply cut short by a
// reset).
func (tr *transcript) matches(got []byte, prefix bool) bool {
	w, g := 0, 0
	for _, h := range append(tr.holes, len(tr.want)) {
		lit := tr.want[w:h]
		if prefix && len(got)-g <= len(lit) {
			return bytes.HasPrefix(lit, got[g:])
		}
		if !bytes.HasPrefix(got[g:], lit) {
			return false
		}
		g += len(lit)
		w = h
		if h == len(tr.want) {
			break
		}
		digits := g
		for digits < len(got) && got[digits] >= '0' && got[digits] <= '9' {
			digits++
		}
		if digits == g && !(prefix && g == len(got)) {
			return false
		}
		g = digits
	}
	return g == len(got)
}

const transcriptEpoch = 1_800_000_000

func unescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("trailing backslash")
		}
		switch s[i] {
		case 'r':
			b = append(b, '\r')
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '\\':
			b = append(b, '\\')
		case 'x':
			if i+3 > len(s) {
				return nil, fmt.Errorf("short \\x escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			b = append(b, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return b, nil
}

// caseHeader is what a case's "=== name [memcached]" line says, and where
// it stands.
type caseHeader struct {
	name, file string
	line       int
	memcached  bool
}

// scanCases reads the transcript files matching pattern: it calls onCase for
// each "=== name [memcached]" line and onLine for every other line of a case,
// blank lines and # comments skipped. An error from onLine, a line outside a
// case or an unknown option fails the test at the line's file:line.
func scanCases(t testing.TB, pattern string, onCase func(caseHeader), onLine func(l string) error) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts at %s: %v", pattern, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		inCase := false
		for n := 1; sc.Scan(); n++ {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "=== "):
				fields := strings.Fields(l[4:])
				h := caseHeader{name: fields[0], file: f, line: n}
				for _, opt := range fields[1:] {
					if opt != "memcached" {
						t.Fatalf("%s:%d: unknown option %q", f, n, opt)
					}
					h.memcached = true
				}
				onCase(h)
				inCase = true
			case l == "" || strings.HasPrefix(l, "#"):
			case !inCase:
				t.Fatalf("%s:%d: line outside a case", f, n)
			default:
				if err := onLine(l); err != nil {
					t.Fatalf("%s:%d: %v", f, n, err)
				}
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func loadTranscripts(t testing.TB) []*transcript {
	t.Helper()
	var all []*transcript
	var cur *transcript
	scanCases(t, "testdata/*.txt", func(h caseHeader) {
		cur = &transcript{caseHeader: h}
		all = append(all, cur)
	}, func(l string) error {
		switch {
		case strings.HasPrefix(l, "> "):
			b, err := unescape(l[2:])
			if err != nil {
				return err
			}
			cur.steps = append(cur.steps, step{data: b})
		case strings.HasPrefix(l, "< "):
			for i, part := range strings.Split(l[2:], `\#`) {
				if i > 0 {
					cur.holes = append(cur.holes, len(cur.want))
				}
				b, err := unescape(part)
				if err != nil {
					return err
				}
				cur.want = append(cur.want, b...)
			}
		case strings.HasPrefix(l, "repeat "):
			var count int
			var ch string
			if _, err := fmt.Sscanf(l, "repeat %d %s", &count, &ch); err != nil || len(ch) != 1 {
				return fmt.Errorf("bad repeat: %v", err)
			}
			cur.steps = append(cur.steps, step{data: bytes.Repeat([]byte(ch), count)})
		case strings.HasPrefix(l, "clock +"):
			d, err := strconv.ParseInt(l[len("clock +"):], 10, 64)
			if err != nil {
				return err
			}
			cur.steps = append(cur.steps, step{clock: d})
		case l == "closed":
			cur.closed = true
		default:
			return fmt.Errorf("unknown line %q", l)
		}
		return nil
	})
	return all
}

// fakeClock is a settable clock for deterministic expiry.
type fakeClock struct{ now int64 }

func (c *fakeClock) Now() time.Time { return time.Unix(c.now, 0) }

// feeder plays the reactor's part for a Session: it keeps the unconsumed
// input and offers it again after every read, as reactor.Handler.OnData
// promises.
type feeder struct {
	session *Session
	pending []byte
	out     []byte
	closed  bool
}

func (f *feeder) read(p []byte) {
	if f.closed {
		return
	}
	f.pending = append(f.pending, p...)
	for {
		n, out, closeNow := f.session.Process(f.pending, f.out, 1<<20)
		f.out = out
		f.pending = f.pending[n:]
		if closeNow {
			f.closed = true
			return
		}
		if n == 0 {
			return
		}
	}
}

func newTestCache(t testing.TB, clock *fakeClock) *Cache {
	t.Helper()
	st, err := NewStore(StoreConfig{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return NewCache(st, Settings{}, nil)
}

// TestTranscripts replays every transcript: each command's reply, byte for
// byte, as memcached 1.6.18 gives it (where the case is marked memcached), and
// the connection closed exactly when the case says so.
func TestTranscripts(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		t.Run(tr.name, func(t *testing.T) {
			clock := &fakeClock{now: transcriptEpoch}
			f := &feeder{session: newTestCache(t, clock).NewSession()}
			for _, s := range tr.steps {
				if s.data == nil {
					clock.now += s.clock
					continue
				}
				f.read(s.with(f.out))
			}
			if !tr.matches(f.out, false) {
				t.Errorf("%s:%d\n got: %q\nwant: %q", tr.file, tr.line, trim(f.out), tr.wanted())
			}
			if f.closed != tr.closed {
				t.Errorf("%s:%d closed = %v, want %v", tr.file, tr.line, f.closed, tr.closed)
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 600 {
		return append(append(b[:300:300], "..."...), b[len(b)-300:]...)
	}
	return b
}

// TestTranscriptsAgainstMemcached replays the cases marked memcached against
// a real memcached at MEMCACHED_ADDR (skipped when it is not set).
func TestTranscriptsAgainstMemcached(t *testing.T) {
	addr := os.Getenv("MEMCACHED_ADDR")
	if addr == "" {
		t.Skip("MEMCACHED_ADDR not set")
	}
	for _, tr := range loadTranscripts(t) {
		if !tr.memcached {
			continue
		}
		t.Run(tr.name, func(t *testing.T) { replayTCP(t, addr, tr, true) })
	}
}

// TestTranscriptsOverReactor replays every case without clock steps through
// the reactor and the Protocol, over TCP, each on a fresh server: what the
// processor answers in memory is what a client gets.
func TestTranscriptsOverReactor(t *testing.T) {
	for _, tr := range loadTranscripts(t) {
		if slices.ContainsFunc(tr.steps, func(s step) bool { return s.data == nil }) {
			continue
		}
		t.Run(tr.name, func(t *testing.T) { replayTCP(t, serveFresh(t), tr, false) })
	}
}

// serveFresh serves a fresh store through the reactor and the Protocol for
// the test, on one Worker, and returns its address.
func serveFresh(t *testing.T) string {
	t.Helper()
	st, err := NewStore(StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewProtocol(NewCache(st, Settings{}, nil))
	cfg, err := p.Config(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	return reactortest.Serve(t, cfg, p).Addrs()[0].String()
}

// replayTCP sends a case's reads to a server at addr and compares the
// replies. When the server closes the connection with input unread, the
// kernel resets it and may discard the reply; then only a prefix of the
// expected bytes is required.
func replayTCP(t *testing.T, addr string, tr *transcript, flush bool) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	if flush {
		if _, err := nc.Write([]byte("flush_all\r\n")); err != nil {
			t.Fatal(err)
		}
		ok := make([]byte, 4)
		if _, err := io.ReadFull(nc, ok); err != nil || string(ok) != "OK\r\n" {
			t.Fatalf("flush_all: %q %v", ok, err)
		}
	}
	// A client that stops reading while it writes a large case would
	// deadlock against a server that stops reading while its replies are
	// unread: read concurrently. The reader stops at an error: the
	// deadline, the server's close, or the close when this returns.
	var (
		mu   sync.Mutex
		got  []byte
		rerr error // set once the reader stopped
	)
	changed := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, err := nc.Read(buf)
			mu.Lock()
			got = append(got, buf[:n]...)
			rerr = err
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	// until waits for the replies to satisfy cond, or for the reader to
	// stop, and returns them.
	until := func(cond func([]byte) bool) ([]byte, error) {
		for {
			mu.Lock()
			g, err := got, rerr
			mu.Unlock()
			if cond(g) || err != nil {
				return g, err
			}
			<-changed
		}
	}
	// The sentinel, a miss with an opaque no case uses, is answered after
	// every earlier command: it marks the end of the replies so far without
	// waiting for silence, at the end and before a read that needs $cas.
	const sentinel, sentinelReply = "mg end-of-transcript O31337\r\n", "EN O31337\r\n"
	sentinels := 0
	mark := func() ([]byte, error) {
		if _, err := nc.Write([]byte(sentinel)); err != nil {
			return nil, err
		}
		sentinels++
		g, err := until(func(g []byte) bool { return bytes.Count(g, []byte(sentinelReply)) == sentinels })
		return bytes.ReplaceAll(g, []byte(sentinelReply), nil), err
	}
	for _, s := range tr.steps {
		var sofar []byte
		if s.needsCAS() {
			if sofar, err = mark(); err != nil {
				t.Fatalf("%s:%d: replies before a read with $cas: %v (so far %q)", tr.file, tr.line, err, trim(sofar))
			}
		}
		if _, err := nc.Write(s.with(sofar)); err != nil {
			if tr.closed {
				break
			}
			t.Fatal(err)
		}
	}
	var final []byte
	var rerrFinal error
	if tr.closed {
		final, rerrFinal = until(func([]byte) bool { return false })
		final = bytes.ReplaceAll(final, []byte(sentinelReply), nil)
	} else {
		final, rerrFinal = mark()
	}
	closed := errors.Is(rerrFinal, io.EOF) || errors.Is(rerrFinal, syscall.ECONNRESET)
	if rerrFinal != nil && !closed {
		t.Fatalf("reading replies: %v (so far %q)", rerrFinal, trim(final))
	}
	if !tr.matches(final, tr.closed) {
		t.Errorf("%s:%d over TCP\n got: %q\nwant: %q", tr.file, tr.line, trim(final), tr.wanted())
	}
	if closed != tr.closed {
		t.Errorf("%s:%d closed = %v, want %v", tr.file, tr.line, closed, tr.closed)
	}
}
