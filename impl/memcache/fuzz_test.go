package memcache

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

// replyLine matches every line the server may send outside a data block.
var replyLine = regexp.MustCompile(`^(` +
	`STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|OK|END|ERROR|RESET|MN|` +
	`(EN|HD|NS|EX|NF)( [A-Za-z][^ ]*)*|` +
	`CLIENT_ERROR [ -~]+|SERVER_ERROR [ -~]+|VERSION [ -~]+|` +
	`STAT [!-~]+ [ -~]*|` +
	`ME [^ ]+ exp=-?\d+ la=\d+ cas=\d+ fetch=(yes|no) cls=1 size=\d+|` +
	`ITEM [^ ]+ \[\d+ b; \d+ s\]|` +
	`\d+)$`)

// dataHeader matches a line announcing a data block; the submatch is its
// length.
var dataHeader = regexp.MustCompile(`^(?:VALUE [^ ]+ \d+ (\d+)(?: \d+)?|VA (\d+)(?: [A-Za-z][^ ]*)*)$`)

// checkReplies reports the first malformed reply in out: a line that is not
// one of the known forms, or a data block whose length or trailer is wrong.
func checkReplies(out []byte) string {
	for len(out) > 0 {
		i := bytes.Index(out, []byte("\r\n"))
		if i < 0 {
			return "reply without \\r\\n: " + strconv.Quote(string(out[:min(len(out), 80)]))
		}
		line := out[:i]
		out = out[i+2:]
		if m := dataHeader.FindSubmatch(line); m != nil {
			ns := m[1]
			if ns == nil {
				ns = m[2]
			}
			n, _ := strconv.Atoi(string(ns))
			if len(out) < n+2 || out[n] != '\r' || out[n+1] != '\n' {
				return "data block does not match its header " + strconv.Quote(string(line))
			}
			out = out[n+2:]
			continue
		}
		if !replyLine.Match(line) {
			return "unknown reply line " + strconv.Quote(string(line[:min(len(line), 120)]))
		}
	}
	return ""
}

// FuzzParser feeds arbitrary input, cut into reads of arbitrary sizes, to one
// connection: Process must not panic, must make progress or wait for more,
// and every reply must be well formed. The seed corpus
// (testdata/fuzz/FuzzParser) holds the requests of the transcripts.
func FuzzParser(f *testing.F) {
	f.Add([]byte("set a 0 0 1\r\nx\r\nget a b\r\n"), uint16(3))
	f.Add([]byte("ms k 2 T0 F5 c\r\nhi\r\nmg k v c f k s t\r\nma k\r\n"), uint16(5))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint16) {
		clock := &fakeClock{now: transcriptEpoch}
		st, err := NewStore(StoreConfig{MaxBytes: 1 << 20, ItemMax: 4096, Clock: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		cache := NewCache(st, Settings{MaxLine: 512, MaxGetLine: 1024, ReqsPerEvent: 3, Binding: BindASCII}, nil)
		s := cache.NewSession()
		// Nothing consumed: it must be waiting for more input, which is
		// bounded by the line limit or a value.
		all := feedChunks(t, s, in, int(chunk%257)+1, 1024+4096+2)
		if msg := checkReplies(all); msg != "" {
			t.Fatalf("%s\ninput %q", msg, in)
		}
	})
}

// feedChunks gives s the input in reads of size bytes, offering what is
// unconsumed again after each as the reactor does, until s closes the
// connection; it fails when s consumes what it was not given, or waits for
// more while holding over maxPending bytes. It returns the replies.
func feedChunks(t *testing.T, s *Session, in []byte, size, maxPending int) []byte {
	t.Helper()
	var pending, all []byte
	for off := 0; off < len(in); off += size {
		pending = append(pending, in[off:min(off+size, len(in))]...)
		for len(pending) > 0 {
			n, out, closeNow := s.Process(pending, nil, 4096)
			if n < 0 || n > len(pending) {
				t.Fatalf("consumed %d of %d", n, len(pending))
			}
			all = append(all, out...)
			pending = pending[n:]
			if closeNow {
				return all
			}
			if n == 0 && len(out) == 0 {
				if len(pending) > maxPending {
					t.Fatalf("holds %d unconsumed bytes, over %d", len(pending), maxPending)
				}
				break
			}
		}
	}
	return all
}

// TestCheckRepliesCatches shows the well-formedness check fails on broken
// replies, so FuzzParser can fail.
func TestCheckRepliesCatches(t *testing.T) {
	for _, bad := range []string{"STORED", "HELLO\r\n", "VALUE k 0 5\r\nabc\r\nEND\r\n", "VA 2\r\nabcd\r\n"} {
		if checkReplies([]byte(bad)) == "" {
			t.Errorf("checkReplies(%q) passed", bad)
		}
	}
	if msg := checkReplies([]byte("VALUE k 0 2 9\r\n\r\n\r\nEND\r\nVA 1 c3\r\nx\r\nHD\r\n18\r\n")); msg != "" {
		t.Error(msg)
	}
}
