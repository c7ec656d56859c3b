package memcache_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	diffSeed     = flag.Uint64("diff.seed", 0, "run the differential fuzzer on this seed alone")
	diffDuration = flag.Duration("diff.duration", 0, "run the differential fuzzer on fresh random seeds for this long")
)

// diffBatches is how many pipelined batches one seed sends.
const diffBatches = 150

// diffSeeds are the seeds every run of make test replays.
var diffSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8}

// diffSide is one server under comparison: a connection, redialed after the
// server closes it.
type diffSide struct {
	name, addr string
	nc         net.Conn
	// twin, when set, turns the side into a broken twin: it rewrites each
	// batch's reads before they are sent and its reply after.
	twin *diffTwin
}

func (s *diffSide) conn() (net.Conn, error) {
	if s.nc == nil {
		nc, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		s.nc = nc
	}
	return s.nc, nil
}

func (s *diffSide) drop() {
	if s.nc != nil {
		s.nc.Close()
		s.nc = nil
	}
}

// reply is what a server answered to one batch: its bytes up to the
// batch's end marker, and whether it closed the connection first.
type reply struct {
	out    []byte
	closed bool
}

// diffMarker ends every batch: a miss with an opaque no generated command
// uses, answered after everything before it.
func diffMarker(n int) (req, rep string) {
	return fmt.Sprintf("mg __end__ O%d\r\n", n), fmt.Sprintf("EN O%d\r\n", n)
}

// exchange sends reads and the marker, and reads the replies up to the
// marker's, or until the server closes the connection (then the side
// redials for the next batch), or until a deadline: a server that waits for
// more of a data block than the batch holds never answers the marker.
func (s *diffSide) exchange(reads [][]byte, n int) (reply, error) {
	nc, err := s.conn()
	if err != nil {
		return reply{}, err
	}
	if s.twin != nil && s.twin.request != nil {
		for i := range reads {
			reads[i] = s.twin.request(reads[i])
		}
	}
	mreq, mrep := diffMarker(n)
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	go func() {
		for _, r := range reads {
			if _, err := nc.Write(r); err != nil {
				return
			}
		}
		_, _ = nc.Write([]byte(mreq))
	}()
	var got []byte
	buf := make([]byte, 1<<16)
	for !bytes.HasSuffix(got, []byte(mrep)) {
		k, err := nc.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			s.drop()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return reply{out: got}, fmt.Errorf("%s: no reply to the batch's end marker in 2 s (so far %q)", s.name, clip(got))
			}
			return reply{out: got, closed: true}, nil
		}
	}
	r := reply{out: bytes.TrimSuffix(got, []byte(mrep))}
	if s.twin != nil && s.twin.reply != nil {
		r.out = s.twin.reply(reads, r.out)
	}
	return r, nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:150]) + "..." + string(b[len(b)-150:])
	}
	return string(b)
}

// diffRun drives handoff and memcached in lockstep and compares replies.
type diffRun struct {
	h, m *diffSide
	// h2m and m2h map CAS uniques one to one: each server numbers its items
	// in its own sequence (memcached's also counts every earlier run), so
	// only the correspondence must hold.
	h2m, m2h map[string]string
	pairs    [][2]string // CAS pairs seen, in order: what $cas picks from
	batches  int
	// sent and answer are the last batch's reads to memcached, $cas
	// expanded, and its reply: what a transcript of the run shows.
	sent   [][]byte
	answer []byte
}

func newDiffRun(h, m *diffSide) *diffRun {
	return &diffRun{h: h, m: m, h2m: map[string]string{}, m2h: map[string]string{}}
}

// reset empties both caches, on fresh connections.
func (d *diffRun) reset() error {
	for _, s := range []*diffSide{d.h, d.m} {
		s.drop()
		if _, err := s.exchange([][]byte{[]byte("flush_all\r\n")}, -1); err != nil {
			return err
		}
	}
	d.h2m, d.m2h, d.pairs = map[string]string{}, map[string]string{}, nil
	return nil
}

// expand replaces each $cas in a read with a CAS unique seen so far, the
// same item's unique in each server's numbering; the k-th $cas of a run
// picks the k-th most recent pair (or a unique nobody has, before any).
func (d *diffRun) expand(read string, k *int) (h, m []byte) {
	hs, ms := read, read
	for strings.Contains(hs, "$cas") {
		hv, mv := "424242", "424242"
		if len(d.pairs) > 0 {
			p := d.pairs[len(d.pairs)-1-(*k%min(len(d.pairs), 4))]
			hv, mv = p[0], p[1]
		}
		*k++
		hs = strings.Replace(hs, "$cas", hv, 1)
		ms = strings.Replace(ms, "$cas", mv, 1)
	}
	return []byte(hs), []byte(ms)
}

// step sends one batch to both servers and compares the replies; it returns
// a description of the first difference, or "".
func (d *diffRun) step(batch [][]string) (string, error) {
	var hr, mr [][]byte
	k := 0
	for _, cmd := range batch {
		for _, read := range cmd {
			h, m := d.expand(read, &k)
			hr, mr = append(hr, h), append(mr, m)
		}
	}
	d.batches++
	d.sent, d.answer = mr, nil
	hrep, herr := d.h.exchange(hr, d.batches)
	mrep, merr := d.m.exchange(mr, d.batches)
	d.answer = mrep.out
	if merr != nil {
		return "", merr // memcached itself did not answer: the generator's fault
	}
	if herr != nil {
		return herr.Error(), nil
	}
	return d.compare(hrep, mrep), nil
}

// metaReply is the first word of a meta command's reply line.
var metaReply = map[string]bool{"VA": true, "HD": true, "EN": true, "NF": true, "NS": true, "EX": true, "MN": true, "ME": true}

// compare reports the first difference between handoff's reply and
// memcached's, after the normalisations that say why they are allowed.
func (d *diffRun) compare(h, m reply) string {
	if h.closed != m.closed {
		return fmt.Sprintf("handoff closed the connection: %v, memcached: %v (handoff %q, memcached %q)", h.closed, m.closed, clip(h.out), clip(m.out))
	}
	hl, ml := strings.Split(string(h.out), "\r\n"), strings.Split(string(m.out), "\r\n")
	if len(hl) != len(ml) {
		return fmt.Sprintf("handoff replied %q, memcached %q", clip(h.out), clip(m.out))
	}
	for i := range hl {
		if hl[i] == ml[i] && !strings.HasPrefix(hl[i], "VALUE ") && !strings.Contains(hl[i], " c") {
			continue
		}
		if why := d.sameLine(hl[i], ml[i]); why != "" {
			return fmt.Sprintf("line %d: %s: handoff %q, memcached %q (whole replies: handoff %q, memcached %q)", i, why, hl[i], ml[i], clip(h.out), clip(m.out))
		}
	}
	return ""
}

// sameLine compares one reply line word by word. Allowed to differ: a CAS
// unique (the VALUE line's fifth word, a meta reply's c flag), if it maps
// one to one; a meta reply's TTL (t) and last access (l) by 2 seconds,
// since the two servers' clocks tick at different moments; memcached's
// wrapped TTL of an item touched into the past.
func (d *diffRun) sameLine(h, m string) string {
	hw, mw := strings.Fields(h), strings.Fields(m)
	if len(hw) != len(mw) || len(hw) == 0 || hw[0] != mw[0] {
		if h == m {
			return ""
		}
		return "lines differ"
	}
	switch {
	case hw[0] == "VALUE" && len(hw) == 5:
		if h != m && strings.Join(hw[:4], " ") != strings.Join(mw[:4], " ") {
			return "VALUE lines differ"
		}
		return d.sameCAS(hw[4], mw[4])
	case metaReply[hw[0]]:
		for i := 1; i < len(hw); i++ {
			a, b := hw[i], mw[i]
			switch {
			case a == b && (a == "" || a[0] != 'c'):
			case i == 1 && hw[0] == "VA":
				if a != b {
					return "value lengths differ"
				}
			case a != "" && b != "" && a[0] == b[0] && a[0] == 'c':
				if why := d.sameCAS(a[1:], b[1:]); why != "" {
					return why
				}
			case a != "" && b != "" && a[0] == b[0] && (a[0] == 't' || a[0] == 'l'):
				x, errx := strconv.Atoi(a[1:])
				y, erry := strconv.Atoi(b[1:])
				if a[0] == 't' && y > 1<<32-1<<16 {
					// memcached 1.6.18 computes the TTL of an item touched
					// to a time already past in unsigned 32 bits, and
					// reports 2^32 minus the seconds since; handoff says 0
					// (README, "differs from memcached").
					y = 0
				}
				if errx != nil || erry != nil || x-y > 2 || y-x > 2 || (x < 0) != (y < 0) {
					return fmt.Sprintf("flag %c differs", a[0])
				}
			default:
				return fmt.Sprintf("word %d differs", i)
			}
		}
		return ""
	}
	if h != m {
		return "lines differ"
	}
	return ""
}

func (d *diffRun) sameCAS(h, m string) string {
	if _, err := strconv.ParseUint(h, 10, 64); err != nil {
		if h == m {
			return ""
		}
		return "CAS words differ"
	}
	if mm, ok := d.h2m[h]; ok && mm != m {
		return fmt.Sprintf("CAS unique %s was memcached's %s, now %s", h, mm, m)
	}
	if hh, ok := d.m2h[m]; ok && hh != h {
		return fmt.Sprintf("memcached's CAS unique %s was handoff's %s, now %s", m, hh, h)
	}
	if _, ok := d.h2m[h]; !ok {
		d.h2m[h], d.m2h[m] = m, h
		d.pairs = append(d.pairs, [2]string{h, m})
	}
	return ""
}

// diffFailure is a divergence: the batches that led to it, shrunk.
type diffFailure struct {
	seed    uint64
	why     string
	batches [][][]string
}

// runSeed sends a seed's batches; on a divergence it shrinks the commands
// sent so far to a few that still diverge.
func runSeed(t *testing.T, d *diffRun, seed uint64, count int) *diffFailure {
	t.Helper()
	g := diffGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if err := d.reset(); err != nil {
		t.Fatal(err)
	}
	var sent [][][]string
	for range count {
		b := g.batch()
		sent = append(sent, b)
		why, err := d.step(b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if why != "" {
			return shrink(t, d, &diffFailure{seed: seed, why: why, batches: sent})
		}
	}
	return nil
}

// replay runs batches from empty caches and reports the first divergence.
func replay(t *testing.T, d *diffRun, batches [][][]string) string {
	if err := d.reset(); err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		why, err := d.step(b)
		if err != nil {
			return "" // memcached too stopped answering: not this divergence
		}
		if why != "" {
			return why
		}
	}
	return ""
}

// shrink removes batches, then commands within batches, while the
// divergence remains, within a budget of replays.
func shrink(t *testing.T, d *diffRun, f *diffFailure) *diffFailure {
	budget := 2000
	for changed := true; changed && budget > 0; {
		changed = false
		for i := 0; i < len(f.batches) && budget > 0; i++ {
			try := append(append([][][]string{}, f.batches[:i]...), f.batches[i+1:]...)
			budget--
			if why := replay(t, d, try); why != "" {
				f.batches, f.why, changed = try, why, true
				i--
			}
		}
		for i := 0; i < len(f.batches) && budget > 0; i++ {
			for j := 0; len(f.batches[i]) > 1 && j < len(f.batches[i]) && budget > 0; j++ {
				b := append(append([][]string{}, f.batches[i][:j]...), f.batches[i][j+1:]...)
				try := append(append([][][]string{}, f.batches[:i]...), append([][][]string{b}, f.batches[i+1:]...)...)
				budget--
				if why := replay(t, d, try); why != "" {
					f.batches, f.why, changed = try, why, true
					j--
				}
			}
		}
	}
	return f
}

// transcript renders a failure in the transcript format (testdata/*.txt),
// memcached's replies as the expected ones, ready to keep as a case.
func (f *diffFailure) transcript(t *testing.T, d *diffRun) string {
	var b strings.Builder
	fmt.Fprintf(&b, "=== diff_seed_%d memcached\n# %s\n", f.seed, f.why)
	if err := d.reset(); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, batch := range f.batches {
		_, _ = d.step(batch)
		for _, r := range d.sent {
			fmt.Fprintf(&b, "> %s\n", escape(r))
		}
		want = append(want, d.answer...)
	}
	for _, l := range bytes.SplitAfter(want, []byte("\r\n")) {
		if len(l) > 0 {
			fmt.Fprintf(&b, "< %s\n", escape(l))
		}
	}
	return b.String()
}

func escape(p []byte) string {
	var b strings.Builder
	for _, c := range p {
		switch {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\\':
			b.WriteString(`\\`)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// startDiffRun serves a fresh handoff, as twin when one is given, beside the
// memcached at MEMCACHED_ADDR (skipping the test without one); both
// connections are dropped when the test ends.
func startDiffRun(t *testing.T, twin *diffTwin) *diffRun {
	t.Helper()
	addr := os.Getenv("MEMCACHED_ADDR")
	if addr == "" {
		t.Skip("MEMCACHED_ADDR not set: make compat starts memcached and sets it")
	}
	haddr, _ := startServer(t, 0)
	name := "handoff"
	if twin != nil {
		name += " (" + twin.name + ")"
	}
	d := newDiffRun(&diffSide{name: name, addr: haddr, twin: twin}, &diffSide{name: "memcached", addr: addr})
	t.Cleanup(func() { d.h.drop(); d.m.drop() })
	return d
}

// TestDifferential sends random pipelined commands (diff_gen_test.go) to
// handoff and to memcached at MEMCACHED_ADDR in lockstep, and fails on the
// first reply that differs beyond the normalisations sameLine states, with
// the seed (replay it alone with -diff.seed) and the divergence shrunk to a
// transcript. It runs diffSeeds, or -diff.seed, or fresh seeds for
// -diff.duration (make difffuzz).
func TestDifferential(t *testing.T) {
	d := startDiffRun(t, nil)

	seeds := diffSeeds
	if *diffSeed != 0 {
		seeds = []uint64{*diffSeed}
	}
	deadline := time.Now().Add(*diffDuration)
	for i := 0; i < len(seeds) || time.Now().Before(deadline); i++ {
		seed := uint64(time.Now().UnixNano())
		if i < len(seeds) {
			seed = seeds[i]
		}
		if f := runSeed(t, d, seed, diffBatches); f != nil {
			t.Fatalf("seed %d (replay: go test -run TestDifferential -diff.seed %d, with memcached at MEMCACHED_ADDR): %s\nshrunk to:\n%s",
				seed, seed, f.why, f.transcript(t, d))
		}
	}
}

// TestDifferentialExpiry compares what time does to items, on short real
// TTLs: random commands giving keys a TTL of 2 seconds (set, add, touch,
// gat, gats, ms and mg with T, ma with N, and on even seeds flush_all with a
// delay of 2), the replies compared at once, then, after a budgeted wait of 3.5 seconds (the
// two servers' clocks tick at different moments, so no check falls within a
// second of a deadline), every key read back from both. Each seed costs one
// wait; the seeds run one after the other on fresh keys.
func TestDifferentialExpiry(t *testing.T) {
	d := startDiffRun(t, nil)
	for _, seed := range diffSeeds[:2] {
		if f := runExpiry(t, d, seed); f != nil {
			t.Fatalf("expiry seed %d: %s\nthe commands (no shrinking: time is part of them):\n%s", seed, f.why, f.transcript(t, d))
		}
	}
}

// runExpiry runs one seed of TestDifferentialExpiry and returns its first
// divergence.
func runExpiry(t *testing.T, d *diffRun, seed uint64) *diffFailure {
	r := rand.New(rand.NewPCG(seed, 7))
	if err := d.reset(); err != nil {
		t.Fatal(err)
	}
	keys := []string{"e0", "e1", "e2", "e3", "e4", "e5"}
	var sent [][][]string
	step := func(b [][]string) *diffFailure {
		sent = append(sent, b)
		why, err := d.step(b)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if why != "" {
			return &diffFailure{seed: seed, why: why, batches: sent}
		}
		return nil
	}
	for range 30 {
		k := keys[r.IntN(len(keys))]
		var c string
		switch r.IntN(10) {
		case 0, 1, 2:
			c = fmt.Sprintf("set %s %d %s 1\r\nx\r\n", k, r.IntN(3), []string{"2", "0", "1000500"}[r.IntN(3)])
		case 3:
			c = fmt.Sprintf("add %s 0 2 1\r\ny\r\n", k)
		case 4:
			c = fmt.Sprintf("touch %s 2\r\n", k)
		case 5:
			c = fmt.Sprintf("%s 2 %s\r\n", []string{"gat", "gats"}[r.IntN(2)], k)
		case 6:
			c = fmt.Sprintf("ms %s 1 T2\r\nz\r\n", k)
		case 7:
			c = fmt.Sprintf("mg %s v T2\r\n", k)
		case 8:
			c = fmt.Sprintf("ma %s N2 J5\r\n", k)
		default:
			// A delayed flush_all hides every TTL from the reads after the
			// wait, so only even seeds send one.
			if seed%2 == 0 && r.IntN(3) == 0 {
				c = "flush_all 2\r\n"
			} else {
				c = fmt.Sprintf("delete %s\r\n", k)
			}
		}
		if f := step([][]string{{c}}); f != nil {
			return f
		}
	}
	time.Sleep(3500 * time.Millisecond)
	for _, k := range keys {
		if f := step([][]string{{fmt.Sprintf("mg %s v f\r\n", k)}, {fmt.Sprintf("get %s\r\n", k)}}); f != nil {
			return f
		}
	}
	return nil
}
