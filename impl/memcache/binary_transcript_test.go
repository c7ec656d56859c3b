package memcache

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A binary transcript (testdata/binary/*.txt) holds cases of the binary
// protocol, written as one frame a line:
//
//	=== name [memcached]
//	> OP field=value ...     a request frame, one read
//	> raw=HEX                bytes sent as they are (a malformed frame)
//	clock +N                 advance the fake clock by N seconds
//	< OP field=value ...     an expected response frame
//	closed                   the server closes the connection after them
//
// OP is an opcode's name (binOpNames) or op=0xNN. A request's fields are
// key, value (escapes as in the text transcripts), keysize=N and size=N (a
// key or value of N bytes), flags and exp (a set's extras, or exp alone: touch, gat, flush),
// delta, initial and exp (an incr's), cas (a number, or $cas: the CAS of the
// last response that carried one), opaque, and the overrides ext=HEX,
// extlen=N, keylen=N and bodylen=N, which make a frame malformed.
//
// A response is rendered as OP, then status (its name, when not success),
// opaque, cas (# for any nonzero unique), flags (a 4-byte extras), key,
// then num (an incr's 8-byte reply) or value. The expected line must equal
// the rendering, with value=* matching any value.
//
// Cases run in memory on a fresh store with a fake clock, and over the
// reactor; cases marked memcached are replayed unchanged against memcached
// at MEMCACHED_ADDR by make compat.
type binTranscript struct {
	caseHeader
	steps  []binStep
	want   []string
	closed bool
}

type binStep struct {
	fields map[string]string // a request; nil for a clock step
	clock  int64
}

var binOpNames = map[string]uint8{
	"get": binGet, "set": binSet, "add": binAdd, "replace": binReplace, "delete": binDelete,
	"incr": binIncrement, "decr": binDecrement, "quit": binQuit, "flush": binFlush, "getq": binGetQ,
	"noop": binNoop, "version": binVersion, "getk": binGetK, "getkq": binGetKQ, "append": binAppend,
	"prepend": binPrepend, "stat": binStat, "setq": binSetQ, "addq": binAddQ, "replaceq": binReplaceQ,
	"deleteq": binDeleteQ, "incrq": binIncrementQ, "decrq": binDecrementQ, "quitq": binQuitQ,
	"flushq": binFlushQ, "appendq": binAppendQ, "prependq": binPrependQ, "touch": binTouch,
	"gat": binGat, "gatq": binGatQ, "gatk": binGatK, "gatkq": binGatKQ, "sasl_list": binSASLList,
	"sasl_auth": binSASLAuth,
}

var binStatusNames = map[uint16]string{
	binKeyENOENT: "ENOENT", binKeyEEXISTS: "EEXISTS", binE2BIG: "E2BIG", binEINVAL: "EINVAL",
	binNotStored: "NOT_STORED", binDeltaBadval: "DELTA_BADVAL", binAuthError: "AUTH_ERROR",
	binUnknownCmd: "UNKNOWN_COMMAND", binENOMEM: "ENOMEM",
}

func binOpName(op uint8) string {
	for n, o := range binOpNames {
		if o == op {
			return n
		}
	}
	return fmt.Sprintf("op=0x%02x", op)
}

// frame encodes a request step; lastCAS stands for $cas.
func (s binStep) frame(lastCAS uint64) ([]byte, error) {
	f := s.fields
	if raw, ok := f["raw"]; ok {
		return hex.DecodeString(strings.ReplaceAll(raw, "_", ""))
	}
	// num reads a numeric field, 0 when absent; the first bad one fails the
	// frame.
	var bad error
	num := func(k string) uint64 {
		v, ok := f[k]
		switch {
		case !ok:
			return 0
		case v == "$cas":
			return lastCAS
		}
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("%s: %w", k, err)
		}
		return n
	}
	var op uint8
	if o, ok := binOpNames[f["op"]]; ok {
		op = o
	} else if n, err := strconv.ParseUint(f["op"], 0, 8); err == nil {
		op = uint8(n)
	} else {
		return nil, fmt.Errorf("unknown op %q", f["op"])
	}
	key, err := unescape(f["key"])
	if err != nil {
		return nil, err
	}
	value, err := unescape(f["value"])
	if err != nil {
		return nil, err
	}
	if n := num("keysize"); n > 0 {
		key = bytes.Repeat([]byte("k"), int(n))
	}
	if n := num("size"); n > 0 {
		value = bytes.Repeat([]byte("v"), int(n))
	}
	exp := binary.BigEndian.AppendUint32(nil, uint32(num("exp")))
	var ext []byte
	switch op {
	case binSet, binSetQ, binAdd, binAddQ, binReplace, binReplaceQ:
		ext = append(binary.BigEndian.AppendUint32(nil, uint32(num("flags"))), exp...)
	case binIncrement, binIncrementQ, binDecrement, binDecrementQ:
		ext = binary.BigEndian.AppendUint64(nil, num("delta"))
		ext = binary.BigEndian.AppendUint64(ext, num("initial"))
		ext = append(ext, exp...)
	case binTouch, binGat, binGatQ, binGatK, binGatKQ:
		ext = exp
	case binFlush, binFlushQ:
		if _, ok := f["exp"]; ok {
			ext = exp
		}
	}
	if x, ok := f["ext"]; ok {
		if ext, err = hex.DecodeString(x); err != nil {
			return nil, err
		}
	}
	// extlen, keylen and bodylen override what the frame's parts say.
	length := func(k string, n int) uint64 {
		if _, ok := f[k]; ok {
			return num(k)
		}
		return uint64(n)
	}
	extLen, keyLen, bodyLen := length("extlen", len(ext)), length("keylen", len(key)), length("bodylen", len(ext)+len(key)+len(value))
	cas, opaque := num("cas"), num("opaque")
	if bad != nil {
		return nil, bad
	}
	b := []byte{binReqMagic, op}
	b = binary.BigEndian.AppendUint16(b, uint16(keyLen))
	b = append(b, uint8(extLen), 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(bodyLen))
	b = binary.BigEndian.AppendUint32(b, uint32(opaque))
	b = binary.BigEndian.AppendUint64(b, cas)
	b = append(b, ext...)
	b = append(b, key...)
	return append(b, value...), nil
}

func (s binStep) needsCAS() bool {
	for _, v := range s.fields {
		if v == "$cas" {
			return true
		}
	}
	return false
}

// binFrames splits out into response frames: each rendered, the CAS of the
// last that carried one, and the bytes left over (a frame cut short).
func binFrames(out []byte) (frames []string, lastCAS uint64, rest []byte) {
	for len(out) >= binHeaderLen {
		bodyLen := int(binary.BigEndian.Uint32(out[8:]))
		if len(out) < binHeaderLen+bodyLen {
			break
		}
		op, keyLen, extLen := out[1], int(binary.BigEndian.Uint16(out[2:])), int(out[4])
		status := binary.BigEndian.Uint16(out[6:])
		opaque := binary.BigEndian.Uint32(out[12:])
		cas := binary.BigEndian.Uint64(out[16:])
		body := out[binHeaderLen : binHeaderLen+bodyLen]
		out = out[binHeaderLen+bodyLen:]
		var b strings.Builder
		b.WriteString(binOpName(op))
		if status != binOK {
			fmt.Fprintf(&b, " status=%s", binStatusNames[status])
		}
		if opaque != 0 {
			fmt.Fprintf(&b, " opaque=%d", opaque)
		}
		if cas != 0 {
			b.WriteString(" cas=#")
			lastCAS = cas
		}
		if extLen > len(body) || extLen+keyLen > len(body) {
			fmt.Fprintf(&b, " malformed=%x", body)
			frames = append(frames, b.String())
			continue
		}
		if extLen == 4 {
			fmt.Fprintf(&b, " flags=%d", binary.BigEndian.Uint32(body))
		} else if extLen > 0 {
			fmt.Fprintf(&b, " ext=%x", body[:extLen])
		}
		if keyLen > 0 {
			fmt.Fprintf(&b, " key=%s", binEscape(body[extLen:extLen+keyLen]))
		}
		value := body[extLen+keyLen:]
		isDelta := op == binIncrement || op == binDecrement || op == binIncrementQ || op == binDecrementQ
		switch {
		case isDelta && status == binOK && len(value) == 8:
			fmt.Fprintf(&b, " num=%d", binary.BigEndian.Uint64(value))
		case len(value) > 0:
			fmt.Fprintf(&b, " value=%s", binEscape(value))
		}
		frames = append(frames, b.String())
	}
	return frames, lastCAS, out
}

// binEscape writes b with the transcripts' escapes, spaces included, so
// that a rendered field is one word.
func binEscape(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '\r':
			s.WriteString(`\r`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\\':
			s.WriteString(`\\`)
		case c <= ' ' || c >= 0x7f:
			fmt.Fprintf(&s, `\x%02x`, c)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// matches reports whether got, the rendered responses, are the case's.
func (tr *binTranscript) matches(got []string) bool {
	if len(got) != len(tr.want) {
		return false
	}
	for i, w := range tr.want {
		g := got[i]
		if strings.HasSuffix(w, " value=*") {
			base := strings.TrimSuffix(w, " value=*")
			if g == base || strings.HasPrefix(g, base+" value=") {
				continue
			}
		}
		if g != w {
			return false
		}
	}
	return true
}

func loadBinTranscripts(t testing.TB) []*binTranscript {
	t.Helper()
	var all []*binTranscript
	var cur *binTranscript
	scanCases(t, "testdata/binary/*.txt", func(h caseHeader) {
		cur = &binTranscript{caseHeader: h}
		all = append(all, cur)
	}, func(l string) error {
		switch {
		case strings.HasPrefix(l, "> "):
			fields := map[string]string{}
			for i, w := range strings.Fields(l[2:]) {
				k, v, ok := strings.Cut(w, "=")
				switch {
				case i == 0 && !ok:
					fields["op"] = w
				case !ok:
					return fmt.Errorf("field %q has no value", w)
				default:
					fields[k] = v
				}
			}
			if _, err := (binStep{fields: fields}).frame(0); err != nil {
				return err
			}
			cur.steps = append(cur.steps, binStep{fields: fields})
		case strings.HasPrefix(l, "< "):
			cur.want = append(cur.want, l[2:])
		case strings.HasPrefix(l, "clock +"):
			d, err := strconv.ParseInt(l[len("clock +"):], 10, 64)
			if err != nil {
				return err
			}
			cur.steps = append(cur.steps, binStep{clock: d})
		case l == "closed":
			cur.closed = true
		default:
			return fmt.Errorf("unknown line %q", l)
		}
		return nil
	})
	return all
}

// TestBinaryTranscripts replays every binary case in memory: each response
// frame as memcached 1.6.18 sends it (where the case is marked memcached),
// and the connection closed exactly when the case says so.
func TestBinaryTranscripts(t *testing.T) {
	for _, tr := range loadBinTranscripts(t) {
		t.Run(tr.name, func(t *testing.T) {
			clock := &fakeClock{now: transcriptEpoch}
			f := &feeder{session: newTestCache(t, clock).NewSession()}
			for _, s := range tr.steps {
				if s.fields == nil {
					clock.now += s.clock
					continue
				}
				_, cas, _ := binFrames(f.out)
				b, err := s.frame(cas)
				if err != nil {
					t.Fatal(err)
				}
				f.read(b)
			}
			got, _, rest := binFrames(f.out)
			if !tr.matches(got) || len(rest) > 0 {
				t.Errorf("%s:%d\n got: %s (and %d bytes)\nwant: %s", tr.file, tr.line, strings.Join(got, " | "), len(rest), strings.Join(tr.want, " | "))
			}
			if f.closed != tr.closed {
				t.Errorf("%s:%d closed = %v, want %v", tr.file, tr.line, f.closed, tr.closed)
			}
		})
	}
}

// TestBinaryTranscriptsOverReactor replays every case without clock steps
// over TCP through the reactor, each on a fresh server.
func TestBinaryTranscriptsOverReactor(t *testing.T) {
	for _, tr := range loadBinTranscripts(t) {
		if slices.ContainsFunc(tr.steps, func(s binStep) bool { return s.fields == nil }) {
			continue
		}
		t.Run(tr.name, func(t *testing.T) { replayBinTCP(t, serveFresh(t), tr, false) })
	}
}

// TestBinaryTranscriptsAgainstMemcached replays the cases marked memcached
// against a real memcached at MEMCACHED_ADDR (skipped when it is not set).
func TestBinaryTranscriptsAgainstMemcached(t *testing.T) {
	addr := os.Getenv("MEMCACHED_ADDR")
	if addr == "" {
		t.Skip("MEMCACHED_ADDR not set")
	}
	for _, tr := range loadBinTranscripts(t) {
		if tr.memcached {
			t.Run(tr.name, func(t *testing.T) { replayBinTCP(t, addr, tr, true) })
		}
	}
}

// binSentinel is a noop with an opaque no case uses: its response follows
// every earlier one, marking the end of the responses so far.
var binSentinel = []byte{binReqMagic, binNoop, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7a, 0x69, 0, 0, 0, 0, 0, 0, 0, 0}

const binSentinelRendered = "noop opaque=31337"

// replayBinTCP sends a case's frames to a server at addr and compares the
// responses; with flush, it flushes the server first (memcached keeps its
// items across cases).
func replayBinTCP(t *testing.T, addr string, tr *binTranscript, flush bool) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	var got []byte
	buf := make([]byte, 1<<16)
	var rerr error
	// mark sends the sentinel and reads until its response, or until the
	// server closes the connection or the deadline passes.
	mark := func() {
		if _, err := nc.Write(binSentinel); err != nil {
			rerr = err
			return
		}
		for rerr == nil {
			frames, _, _ := binFrames(got)
			if len(frames) > 0 && frames[len(frames)-1] == binSentinelRendered {
				got = got[:len(got)-len(binSentinel)]
				return
			}
			var n int
			n, rerr = nc.Read(buf)
			got = append(got, buf[:n]...)
		}
	}
	if flush {
		if _, err := nc.Write([]byte{binReqMagic, binFlush, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
		mark()
		if frames, _, _ := binFrames(got); rerr != nil || len(frames) != 1 || frames[0] != "flush" {
			t.Fatalf("flush: %v %v", frames, rerr)
		}
		got = nil
	}
	for _, s := range tr.steps {
		if s.needsCAS() {
			mark()
		}
		_, cas, _ := binFrames(got)
		b, err := s.frame(cas)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(b); err != nil {
			if tr.closed {
				break
			}
			t.Fatal(err)
		}
	}
	if tr.closed {
		for rerr == nil {
			var n int
			n, rerr = nc.Read(buf)
			got = append(got, buf[:n]...)
		}
	} else {
		mark()
	}
	closed := errors.Is(rerr, io.EOF) || errors.Is(rerr, syscall.ECONNRESET)
	if rerr != nil && !closed {
		t.Fatalf("reading responses: %v (so far %q)", rerr, trim(got))
	}
	frames, _, rest := binFrames(got)
	if !tr.matches(frames) || len(rest) > 0 {
		t.Errorf("%s:%d over TCP\n got: %s (and %d bytes)\nwant: %s", tr.file, tr.line, strings.Join(frames, " | "), len(rest), strings.Join(tr.want, " | "))
	}
	if closed != tr.closed {
		t.Errorf("%s:%d closed = %v, want %v", tr.file, tr.line, closed, tr.closed)
	}
}
