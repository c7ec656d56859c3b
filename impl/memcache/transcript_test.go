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
// Every case runs on a fresh store (64 MiB, 1 MiB items) whose clock starts at
// transcriptEpoch. Cases marked "memcached" are also replayed, unchanged,
// against a real memcached when MEMCACHED_ADDR is set (for example
// MEMCACHED_ADDR=127.0.0.1:21211 with memcached -p 21211 -U 0 started just
// before, since the replay relies on fresh keys): that is how the expected
// bytes were checked against memcached 1.6.18.
type transcript struct {
	name      string
	file      string
	line      int
	memcached bool
	steps     []step
	want      []byte
	closed    bool
}

type step struct {
	data  []byte // a read
	clock int64  // or a clock advance
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

func loadTranscripts(t testing.TB) []*transcript {
	t.Helper()
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	var all []*transcript
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		var cur *transcript
		for n := 1; sc.Scan(); n++ {
			l := sc.Text()
			fail := func(err error) { t.Fatalf("%s:%d: %v", f, n, err) }
			switch {
			case strings.HasPrefix(l, "=== "):
				fields := strings.Fields(l[4:])
				cur = &transcript{name: fields[0], file: f, line: n}
				for _, opt := range fields[1:] {
					switch opt {
					case "memcached":
						cur.memcached = true
					default:
						fail(fmt.Errorf("unknown option %q", opt))
					}
				}
				all = append(all, cur)
			case l == "" || strings.HasPrefix(l, "#"):
			case cur == nil:
				fail(fmt.Errorf("line outside a case"))
			case strings.HasPrefix(l, "> "):
				b, err := unescape(l[2:])
				if err != nil {
					fail(err)
				}
				cur.steps = append(cur.steps, step{data: b})
			case strings.HasPrefix(l, "< "):
				b, err := unescape(l[2:])
				if err != nil {
					fail(err)
				}
				cur.want = append(cur.want, b...)
			case strings.HasPrefix(l, "repeat "):
				var count int
				var ch string
				if _, err := fmt.Sscanf(l, "repeat %d %s", &count, &ch); err != nil || len(ch) != 1 {
					fail(fmt.Errorf("bad repeat: %v", err))
				}
				cur.steps = append(cur.steps, step{data: bytes.Repeat([]byte(ch), count)})
			case strings.HasPrefix(l, "clock +"):
				d, err := strconv.ParseInt(l[len("clock +"):], 10, 64)
				if err != nil {
					fail(err)
				}
				cur.steps = append(cur.steps, step{clock: d})
			case l == "closed":
				cur.closed = true
			default:
				fail(fmt.Errorf("unknown line %q", l))
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
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
				f.read(s.data)
			}
			if !bytes.Equal(f.out, tr.want) {
				t.Errorf("%s:%d\n got: %q\nwant: %q", tr.file, tr.line, trim(f.out), trim(tr.want))
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
		t.Run(tr.name, func(t *testing.T) {
			st, err := NewStore(StoreConfig{})
			if err != nil {
				t.Fatal(err)
			}
			p := NewProtocol(NewCache(st, Settings{}, nil))
			cfg, err := p.Config(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			rs := reactortest.Serve(t, cfg, p)
			replayTCP(t, rs.Addrs()[0].String(), tr, false)
		})
	}
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
	// unread: read concurrently.
	type result struct {
		got    []byte
		closed bool
		err    error
	}
	// The sentinel, a miss with an opaque no case uses, is answered after
	// every earlier command: it marks the end of the replies without waiting
	// for silence.
	const sentinel, sentinelReply = "mg end-of-transcript O31337\r\n", "EN O31337\r\n"
	res := make(chan result, 1)
	go func() {
		var r result
		buf := make([]byte, 1<<16)
		for tr.closed || !bytes.HasSuffix(r.got, []byte(sentinelReply)) {
			n, err := nc.Read(buf)
			r.got = append(r.got, buf[:n]...)
			if err != nil {
				r.closed = errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
				if !r.closed {
					r.err = err
				}
				break
			}
		}
		res <- r
	}()
	for _, s := range tr.steps {
		if _, err := nc.Write(s.data); err != nil {
			if tr.closed {
				break
			}
			t.Fatal(err)
		}
	}
	if !tr.closed {
		if _, err := nc.Write([]byte(sentinel)); err != nil {
			t.Fatal(err)
		}
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("reading replies: %v (so far %q)", r.err, trim(r.got))
	}
	got := bytes.TrimSuffix(r.got, []byte(sentinelReply))
	if !bytes.Equal(got, tr.want) && !(tr.closed && bytes.HasPrefix(tr.want, got)) {
		t.Errorf("%s:%d over TCP\n got: %q\nwant: %q", tr.file, tr.line, trim(got), trim(tr.want))
	}
	if r.closed != tr.closed {
		t.Errorf("%s:%d closed = %v, want %v", tr.file, tr.line, r.closed, tr.closed)
	}
}
