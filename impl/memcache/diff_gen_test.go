package memcache_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The differential fuzzer's generator: random commands of memcached 1.6.18's
// text and meta protocols, over a key space of a few keys so that commands
// collide. A command is one or more reads: a data block is sometimes split
// across two. "$cas" in a read stands for a CAS unique the runner picks from
// those seen, in each server's own numbering (see diffRun.expand).

// diffKeys is the key space: short keys that collide, the longest key
// memcached accepts, and one past it.
var diffKeys = []string{"a", "b", "c", "d", "n", strings.Repeat("k", 250), strings.Repeat("k", 251)}

// diffExptimes are the exptimes the generator gives: none, one that does not
// run out during a run, and two that have already run out (relative and
// absolute). Short TTLs that run out mid-run tick at different moments on
// the two servers, so they are left to the transcripts' fake clock.
var diffExptimes = []string{"0", "0", "0", "1000500", "-1", "2592001"}

type diffGen struct{ r *rand.Rand }

func (g diffGen) pick(from ...string) string { return from[g.r.IntN(len(from))] }

func (g diffGen) key() string {
	if g.r.IntN(20) == 0 {
		return g.pick(diffKeys[5:]...)
	}
	return g.pick(diffKeys[:5]...)
}

// value returns a value: mostly short letters, sometimes a number (for incr
// and ma), sometimes empty or a few kilobytes.
func (g diffGen) value() string {
	switch g.r.IntN(8) {
	case 0:
		return fmt.Sprint(g.r.IntN(100))
	case 1:
		// No number of 2^63 or more: memcached 1.6.18 looks for a minus
		// sign in one past the value's end, in memory the item does not
		// own, and so may call it non-numeric (README, "differs from
		// memcached"); the transcripts check the wrap at 2^64 on a fresh
		// server.
		return g.pick("", "4611686018427387903", "-1", "5x")
	case 2:
		return strings.Repeat(g.pick("x", "yz"), g.r.IntN(3000))
	default:
		return strings.Repeat(g.pick("v", "w"), 1+g.r.IntN(8))
	}
}

// block returns the reads of a command line and its data block: whole, or
// split at a random point, or (rarely) with a data block longer than its
// length says.
func (g diffGen) block(line, value string) []string {
	data := value + "\r\n"
	if g.r.IntN(30) == 0 {
		data = value + "zz\r\n" // bad data chunk
	}
	whole := line + "\r\n" + data
	if g.r.IntN(4) == 0 {
		at := 1 + g.r.IntN(len(whole)-1)
		if i := strings.Index(whole, "$cas"); i >= 0 && at > i && at < i+len("$cas") {
			at = i // the runner expands $cas within one read
		}
		if at == 0 {
			return []string{whole}
		}
		return []string{whole[:at], whole[at:]}
	}
	return []string{whole}
}

func (g diffGen) noreply() string {
	if g.r.IntN(6) == 0 {
		return " noreply"
	}
	return ""
}

// metaFlags returns a random selection of flags from those given, each at
// most once, in a random order.
func (g diffGen) metaFlags(flags ...string) string {
	var b strings.Builder
	for _, i := range g.r.Perm(len(flags)) {
		if g.r.IntN(3) == 0 {
			b.WriteString(" " + flags[i])
		}
	}
	return b.String()
}

// command returns one random command as the reads that carry it.
func (g diffGen) command() []string {
	k := g.key()
	switch op := g.r.IntN(100); {
	case op < 22:
		verb := g.pick("set", "set", "add", "replace", "append", "prepend")
		v := g.value()
		if len(k) > 250 {
			// Refused for its key, the command leaves its data block to be
			// read as a command line; memcached's answer to a line over 2048
			// bytes depends on whether one read held it whole (README,
			// "differs from memcached").
			v = v[:min(len(v), 100)]
		}
		return g.block(fmt.Sprintf("%s %s %d %s %d%s", verb, k, g.r.IntN(10), g.pick(diffExptimes...), len(v), g.noreply()), v)
	case op < 27:
		v := g.value()
		if len(k) > 250 {
			v = v[:min(len(v), 100)] // as for the other storage commands
		}
		return g.block(fmt.Sprintf("cas %s %d %s %d %s%s", k, g.r.IntN(10), g.pick(diffExptimes...), len(v), g.pick("$cas", "$cas", "1"), g.noreply()), v)
	case op < 40:
		// Never a key over 250 bytes: memcached 1.6.18 answers one in a
		// get with CLIENT_ERROR and drops the replies to the commands
		// before it that arrived in the same read (README, "differs from
		// memcached").
		verb := g.pick("get", "gets", "gat "+g.pick(diffExptimes...), "gats "+g.pick(diffExptimes...))
		keys := g.pick(diffKeys[:6]...)
		for range g.r.IntN(3) {
			keys += " " + g.pick(diffKeys[:6]...)
		}
		return []string{fmt.Sprintf("%s %s\r\n", verb, keys)}
	case op < 45:
		return []string{fmt.Sprintf("delete %s%s\r\n", k, g.pick("", "", " 0", " 5", g.noreply()))}
	case op < 52:
		// Only numbers that never get shorter: memcached rewrites a
		// shorter one in place, padded with spaces, or stores a new
		// unpadded and unfetched item when something still holds the old
		// one, and what holds it (replies sent but not yet released) the
		// client can neither see nor prevent (README, "differs from
		// memcached"); the transcripts check decr and padding.
		return []string{fmt.Sprintf("incr %s %s%s\r\n", k, g.pick("1", "7", "0", "1000000007", "x", "-1"), g.noreply())}
	case op < 55:
		return []string{fmt.Sprintf("touch %s %s%s\r\n", k, g.pick(diffExptimes...), g.noreply())}
	case op < 57:
		return []string{g.pick("flush_all\r\n", "flush_all 0\r\n", "flush_all noreply\r\n", "flush_all 0 noreply\r\n")}
	case op < 59:
		return []string{g.pick("version\r\n", "verbosity 1\r\n", "verbosity 0 noreply\r\n", "verbosity\r\n", "mn\r\n")}
	case op < 72:
		// No h: whether an item was fetched is, after an incr that
		// memcached may have made a new item of, hidden state (see incr).
		return []string{fmt.Sprintf("mg %s%s\r\n", k, g.metaFlags("v", "f", "s", "c", "k", "O7", "q", "t", "T"+g.pick(diffExptimes...), "E99"))}
	case op < 84:
		v := g.value()
		if len(k) > 250 {
			v = v[:min(len(v), 100)] // as for the text storage commands
		}
		line := fmt.Sprintf("ms %s %d%s", k, len(v), g.metaFlags("F"+fmt.Sprint(g.r.IntN(10)), "T"+g.pick(diffExptimes...), "c", "C$cas", "k", "O9", "q",
			"M"+g.pick("E", "A", "P", "R", "S", "a", "p")))
		return g.block(line, v)
	case op < 89:
		return []string{fmt.Sprintf("md %s%s\r\n", k, g.metaFlags("q", "k", "O3", "C$cas", "T"+g.pick(diffExptimes...)))}
	case op < 96:
		return []string{fmt.Sprintf("ma %s%s\r\n", k, g.metaFlags("v", "t", "c", "k", "q", "O4", "J"+g.pick("0", "13"),
			"D"+g.pick("1", "3", "x"), "M"+g.pick("I", "+", "Z"), "C$cas"))}
		// No T: memcached 1.6.18 sets it on the item it found, which a
		// number that grew has just replaced, so the TTL is lost (README,
		// "differs from memcached"); the transcripts check T on ma.
	default:
		// Malformed: unknown commands, missing arguments, bad numbers.
		return []string{g.pick("bogus\r\n", "get\r\n", "set a 0 0\r\n", "set a x 0 1\r\nx\r\n", "incr a\r\n", "touch a\r\n",
			"delete\r\n", "mg\r\n", "ma\r\n", "cas a 0 0 1\r\nx\r\n", "\r\n", "GET a\r\n", "set a 0 0 -1\r\n", "mg a zz\r\n")}
	}
}

// batch returns 1 to 6 commands sent together: a pipeline. An incr or ma
// comes only first, after the replies before it have been read.
func (g diffGen) batch() [][]string {
	cmds := make([][]string, 0, 6)
	for n := 1 + g.r.IntN(6); len(cmds) < n; {
		c := g.command()
		if len(cmds) > 0 && isArith(c[0]) {
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func isArith(read string) bool {
	return strings.HasPrefix(read, "incr ") || strings.HasPrefix(read, "decr ") || strings.HasPrefix(read, "ma ")
}
