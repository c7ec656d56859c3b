package memcache_test

import (
	"bytes"
	"regexp"
	"testing"
)

// diffTwin is a broken twin of handoff for the differential fuzzer: the
// real server behind a client that changes what it is asked or what it
// answers, as a cache with that bug would. The fuzzer is trusted only
// because it refutes each.
type diffTwin struct {
	name    string
	request func(read []byte) []byte
	reply   func(reads [][]byte, out []byte) []byte
}

var (
	// The exptime of set, add, replace, append, prepend, cas and touch, and
	// ms's and mg's T flag.
	storageExptime = regexp.MustCompile(`^((?:set|add|replace|append|prepend|cas) \S+ \d+ )(\S+)`)
	touchExptime   = regexp.MustCompile(`^(touch \S+ )(\S+)`)
	metaTTL        = regexp.MustCompile(`( T)(-?\d+)`)
)

// exptimes rewrites the exptimes of a read's command line with f.
func exptimes(read []byte, f func(exptime []byte) []byte) []byte {
	for _, re := range []*regexp.Regexp{storageExptime, touchExptime, metaTTL} {
		read = re.ReplaceAllFunc(read, func(m []byte) []byte {
			sub := re.FindSubmatch(m)
			return append(append([]byte{}, sub[1]...), f(sub[2])...)
		})
	}
	return read
}

var diffTwins = []diffTwin{
	{
		// A store that drops a TTL: every item lives for ever.
		name: "drops-ttl",
		request: func(read []byte) []byte {
			return exptimes(read, func(e []byte) []byte {
				if string(e) == "1000500" {
					return []byte("0")
				}
				return e
			})
		},
	},
	{
		// A store that revives expired items: an exptime already past is
		// taken as none.
		name: "revives-expired",
		request: func(read []byte) []byte {
			return exptimes(read, func(e []byte) []byte {
				if string(e) == "-1" || string(e) == "2592001" {
					return []byte("0")
				}
				return e
			})
		},
	},
	{
		// A reply under noreply: a storage command's STORED is sent anyway.
		name: "replies-under-noreply",
		reply: func(reads [][]byte, out []byte) []byte {
			for _, r := range reads {
				if bytes.Contains(r, []byte(" noreply\r\n")) && !bytes.HasPrefix(r, []byte("flush_all")) && !bytes.HasPrefix(r, []byte("verbosity")) {
					return append([]byte("STORED\r\n"), out...)
				}
			}
			return out
		},
	},
}

// TestDifferentialTwins runs the fuzzer's seeds against each broken twin of
// handoff: every twin must be refuted by a divergence, or the fuzzer could
// not tell that bug from memcached's behaviour.
func TestDifferentialTwins(t *testing.T) {
	for _, twin := range diffTwins {
		t.Run(twin.name, func(t *testing.T) {
			d := startDiffRun(t, &twin)
			for _, seed := range diffSeeds {
				if f := runSeed(t, d, seed, diffBatches); f != nil {
					t.Logf("refuted by seed %d: %s", seed, f.why)
					return
				}
			}
			t.Errorf("no seed of %v refutes the twin %s", diffSeeds, twin.name)
		})
	}
}

// TestDifferentialExpiryTwin: a store that ignores a short TTL, the bug
// TestDifferentialExpiry is for, must be refuted by its first seed.
func TestDifferentialExpiryTwin(t *testing.T) {
	twin := &diffTwin{name: "ignores-short-ttl", request: func(read []byte) []byte {
		return exptimes(read, func(e []byte) []byte {
			if string(e) == "2" {
				return []byte("0")
			}
			return e
		})
	}}
	d := startDiffRun(t, twin)
	f := runExpiry(t, d, diffSeeds[0])
	if f == nil {
		t.Fatalf("seed %d does not refute the twin %s", diffSeeds[0], twin.name)
	}
	t.Logf("refuted: %s", f.why)
}
