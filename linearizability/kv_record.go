package linearizability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
)

// KVSetup is the server and the load of one recorded kv run.
type KVSetup struct {
	// Workers is the cache's reactor Workers.
	Workers int
	// Clients is the number of concurrent clients, each on its own
	// connection; Ops the number of commands they run in all, on Keys keys.
	// Set and cas values are six-digit numbers, one per command, so Ops is
	// at most 899,999 (StaleRead relies on their length).
	Clients, Ops, Keys int
	// Seed makes each client's choice of commands reproducible.
	Seed uint64
	// Wrap, if not nil, wraps the cache's handler: a seeded bug.
	Wrap func(*memcache.Cache, reactor.Handler) reactor.Handler
	// IO is the backend (Config.IO); "" is the default.
	IO reactor.IO
}

// kvOpTimeout bounds one command, from its write to the end of its reply.
const kvOpTimeout = 20 * time.Second

// RecordKV serves handoffd's cache (memcache.Protocol on a reactor, as
// impl/cmd/handoffd assembles them) on 127.0.0.1, runs st.Ops commands from
// st.Clients clients, and stops the server. It returns one operation per
// command, called just before the command is written and returned once its
// reply was read, in no particular order. A client that fails (a timeout,
// a reply that is not the protocol's) stops the run with an error.
func RecordKV(ctx context.Context, st KVSetup) ([]porcupine.Operation, error) {
	if st.Clients < 1 || st.Keys < 1 || st.Ops < 0 || st.Ops > 899_999 {
		return nil, fmt.Errorf("kv setup: %d clients, %d keys, %d ops", st.Clients, st.Keys, st.Ops)
	}
	store, err := memcache.NewStore(memcache.StoreConfig{MaxBytes: 64 << 20})
	if err != nil {
		return nil, err
	}
	cache := memcache.NewCache(store, memcache.Settings{}, nil)
	proto := memcache.NewProtocol(cache)
	var h reactor.Handler = proto
	if st.Wrap != nil {
		h = st.Wrap(cache, h)
	}
	cfg, err := proto.Config(reactor.Config{
		Listen:   []string{"tcp://127.0.0.1:0"},
		Workers:  st.Workers,
		IO:       st.IO,
		MaxConns: max(1024, 2*st.Clients),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	s, err := reactor.New(cfg, h)
	if err != nil {
		return nil, err
	}
	stop := serve(s)
	ops, err := kvClients(ctx, s.Addrs()[0].String(), st)
	return ops, stop(err)
}

// kvClients runs st's clients against addr until st.Ops commands ran or
// one client failed.
func kvClients(ctx context.Context, addr string, st KVSetup) ([]porcupine.Operation, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var next, values atomic.Int64
	var mu sync.Mutex
	ops := make([]porcupine.Operation, 0, st.Ops)
	var wg sync.WaitGroup
	for id := range st.Clients {
		wg.Go(func() {
			mine, err := kvClient(ctx, addr, id, st, start, &next, &values)
			if err != nil {
				cancel(fmt.Errorf("client %d: %w", id, err))
			}
			mu.Lock()
			ops = append(ops, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return ops, context.Cause(ctx)
}

// kvClient is one client: one connection, one command at a time, each
// chosen at random on a random key. It remembers the unique of its last
// gets hit on each key for its cas commands, and issues a gets where it
// would cas without one. Half of its gets hits are followed by a cas on the
// same key, a read-modify-write; cas commands with older uniques test
// EXISTS.
func kvClient(ctx context.Context, addr string, id int, st KVSetup, start time.Time, next, values *atomic.Int64) ([]porcupine.Operation, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// A cancelled run unblocks a read at once.
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })()
	r := bufio.NewReader(c)
	rng := rand.New(rand.NewPCG(st.Seed, uint64(id)))
	uniques := map[string]uint64{}
	casNext := ""
	newValue := func() string { return strconv.FormatInt(100_000+values.Add(1), 10) }
	var ops []porcupine.Operation
	for next.Add(1) <= int64(st.Ops) && ctx.Err() == nil {
		in := KVInput{Key: fmt.Sprintf("k%d", rng.IntN(st.Keys))}
		switch p := rng.IntN(100); {
		case casNext != "":
			in = KVInput{Cmd: KVCas, Key: casNext, Value: newValue(), Unique: uniques[casNext]}
			casNext = ""
		case p < 18:
			in.Cmd = KVGet
		case p < 36:
			in.Cmd = KVGets
		case p < 52:
			in.Cmd, in.Value = KVSet, newValue()
		case p < 60:
			in.Cmd = KVDelete
		case p < 72:
			// Mostly digits, so numbers grow past 64 bits; an x makes the
			// value non-numeric.
			in.Cmd, in.Value = KVAppend, string("123456789x"[rng.IntN(10)])
		case p < 86:
			u, ok := uniques[in.Key]
			if !ok {
				in.Cmd = KVGets
				break
			}
			in.Cmd, in.Value, in.Unique = KVCas, newValue(), u
		default:
			in.Cmd, in.Delta = KVIncr, rng.Uint64N(10)
		}
		if err := c.SetDeadline(time.Now().Add(kvOpTimeout)); err != nil {
			return ops, err
		}
		call := time.Since(start).Nanoseconds()
		if _, err := c.Write(kvRequest(in)); err != nil {
			return ops, err
		}
		out, err := kvReadReply(r, in)
		if err != nil {
			return ops, fmt.Errorf("%s %s: %w", in.Cmd, in.Key, err)
		}
		ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: time.Since(start).Nanoseconds()})
		if in.Cmd == KVGets && out.Reply == KVHit {
			uniques[in.Key] = out.Unique
			if rng.IntN(2) == 0 {
				casNext = in.Key
			}
		}
	}
	return ops, nil
}

// kvRequest is in as the text protocol's command line and data block.
func kvRequest(in KVInput) []byte {
	switch in.Cmd {
	case KVSet, KVAppend:
		return fmt.Appendf(nil, "%s %s 0 0 %d\r\n%s\r\n", in.Cmd, in.Key, len(in.Value), in.Value)
	case KVCas:
		return fmt.Appendf(nil, "cas %s 0 0 %d %d\r\n%s\r\n", in.Key, len(in.Value), in.Unique, in.Value)
	case KVIncr:
		return fmt.Appendf(nil, "incr %s %d\r\n", in.Key, in.Delta)
	}
	return fmt.Appendf(nil, "%s %s\r\n", in.Cmd, in.Key)
}

// kvReadReply reads the reply to in. It checks the protocol only (a reply
// is well formed and is one the command can give); whether the reply is
// right is the specification's question.
func kvReadReply(r *bufio.Reader, in KVInput) (KVOutput, error) {
	line, err := kvLine(r)
	if err != nil {
		return KVOutput{}, err
	}
	switch in.Cmd {
	case KVGet, KVGets:
		if line == "END" {
			return KVOutput{Reply: KVMiss}, nil
		}
		return kvValue(r, in, line)
	case KVIncr:
		if _, err := strconv.ParseUint(line, 10, 64); err == nil {
			return KVOutput{Reply: KVNumber, Value: line}, nil
		}
		if line == "CLIENT_ERROR cannot increment or decrement non-numeric value" {
			return KVOutput{Reply: KVNonNumeric}, nil
		}
	}
	for _, r := range []KVReply{KVStored, KVNotStored, KVExists, KVNotFound, KVDeleted} {
		if line == r.String() && in.Cmd != KVGet && in.Cmd != KVGets {
			return KVOutput{Reply: r}, nil
		}
	}
	return KVOutput{}, fmt.Errorf("unexpected reply %q", line)
}

// kvValue reads the rest of a hit: "VALUE <key> 0 <bytes>[ <cas>]", the
// data block, and END.
func kvValue(r *bufio.Reader, in KVInput, line string) (KVOutput, error) {
	f := strings.Fields(line)
	want := 4
	if in.Cmd == KVGets {
		want = 5
	}
	if len(f) != want || f[0] != "VALUE" || f[1] != in.Key || f[2] != "0" {
		return KVOutput{}, fmt.Errorf("unexpected reply %q", line)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 || n > 1<<20 {
		return KVOutput{}, fmt.Errorf("bad length in %q", line)
	}
	out := KVOutput{Reply: KVHit}
	if in.Cmd == KVGets {
		if out.Unique, err = strconv.ParseUint(f[4], 10, 64); err != nil {
			return KVOutput{}, fmt.Errorf("bad unique in %q", line)
		}
	}
	block := make([]byte, n+2)
	if _, err := io.ReadFull(r, block); err != nil {
		return KVOutput{}, err
	}
	if string(block[n:]) != "\r\n" {
		return KVOutput{}, fmt.Errorf("data block of %q not ended by \\r\\n", line)
	}
	out.Value = string(block[:n])
	if end, err := kvLine(r); err != nil || end != "END" {
		return KVOutput{}, fmt.Errorf("after the value: %q, %v", end, err)
	}
	return out, nil
}

// kvLine reads one "\r\n"-terminated reply line, without the terminator.
func kvLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%w (read %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("reply line %q not ended by \\r\\n", line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}
