package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The store suite: the cache's memory and its throughput at saturation,
// handoffd beside memcached in one run (scripts/bench.sh drives it).
//
//	handoff-bench store -server 'memcached=memcached -p {port} -m 64 -t 2' -server 'handoffd=...' -rounds 3
//
// Fills: a fresh process of each server is sent unique keys until their
// items would take -fill times -m, in one of three value sizes (1,000 bytes,
// 32 bytes, or uniform from 10 to 5,000); then its resident memory and
// curr_items are read. Saturation: one process of each serves every
// connection count and pipeline depth in turn, 90% gets and 10% sets. Each
// round runs the servers in rotated order; a run during which other work
// used more than -quiet-max of the machine is made again.

// storeConfig is the store suite's flags.
type storeConfig struct {
	servers  serverList
	rounds   int
	memMiB   int64
	fill     float64
	conns    string
	depths   string
	dur      time.Duration
	keys     int
	quietMax float64
	retries  int
	jsonOut  string
	svgOut   string
	logDir   string
}

func storeFlags(fs *flag.FlagSet) *storeConfig {
	c := &storeConfig{}
	fs.Var(&c.servers, "server", "a server: `name=command` with {port} (repeatable; the first is the base of the ratios)")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds of fills and of saturation loads")
	fs.Int64Var(&c.memMiB, "m", 64, "the servers' -m, in MiB, for the fills' size")
	fs.Float64Var(&c.fill, "fill", 3, "each fill writes this many times -m")
	fs.StringVar(&c.conns, "conns", "50,400,2000", "saturation: connection counts")
	fs.StringVar(&c.depths, "depths", "1,8", "saturation: pipeline depths")
	fs.DurationVar(&c.dur, "d", 2*time.Second, "saturation: each run's length")
	fs.IntVar(&c.keys, "keys", 10000, "saturation: key space, set once before the runs")
	fs.Float64Var(&c.quietMax, "quiet-max", 0.05, "most other work during a run, as a share of the machine's CPU")
	fs.IntVar(&c.retries, "retries", 3, "how many times a disturbed run is made again")
	fs.StringVar(&c.jsonOut, "json", "store.json", "results `file`")
	fs.StringVar(&c.svgOut, "svg", "store.svg", "chart `file`")
	fs.StringVar(&c.logDir, "logs", os.TempDir(), "`dir` for the servers' output")
	return c
}

// fillKinds are the value sizes of the fills: a name and a size drawn by
// the fill's rng.
var fillKinds = []struct {
	name string
	size func(r *splitmix) int
}{
	{"1000B", func(*splitmix) int { return 1000 }},
	{"32B", func(*splitmix) int { return 32 }},
	{"mixed", func(r *splitmix) int { return 10 + int(r.next()%4991) }},
}

// fillResult is one fill of one fresh server.
type fillResult struct {
	Sets, Errors int64
	RSS          int64 // bytes, after the fill
	Items        int64 // curr_items after the fill
	Other        float64
}

// runFill sends sets of unique keys from 4 connections, 32 per write, until
// the items written (key, value and 50 bytes each) reach target bytes.
func runFill(addr string, pid int, kind int, target int64) (fillResult, error) {
	var r fillResult
	var written, sets, errs atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Value
	deadline := time.Now().Add(2 * time.Minute)
	for w := range 4 {
		c, err := dialMC(addr, 16<<10)
		if err != nil {
			return r, err
		}
		wg.Go(func() {
			defer c.close()
			rng := newRand(uint64(w) + 1)
			value := make([]byte, 5000)
			for i := range value {
				value[i] = 'a' + byte(i%26)
			}
			key := make([]byte, 0, 32)
			for n := 0; written.Load() < target && time.Now().Before(deadline); {
				for range 32 {
					key = strconv.AppendInt(append(key[:0], "fill:"...), int64(n*4+w), 10)
					size := fillKinds[kind].size(rng)
					c.set(key, value[:size])
					written.Add(int64(len(key) + size + 50))
					n++
				}
				refused, err := c.setRoundTrip()
				if err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
				errs.Add(int64(refused))
				sets.Add(32)
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return r, err
	}
	if written.Load() < target {
		return r, fmt.Errorf("fill wrote %d of %d bytes in 2 minutes", written.Load(), target)
	}
	r.Sets, r.Errors = sets.Load(), errs.Load()
	var err error
	if r.RSS, err = settledRSS(pid); err != nil {
		return r, err
	}
	st, err := statsOf(addr)
	if err != nil {
		return r, err
	}
	r.Items, err = strconv.ParseInt(st["curr_items"], 10, 64)
	return r, err
}

// setRoundTrip writes the queued sets and reads a line for each: STORED,
// or a SERVER_ERROR, which a fill counts as a refused set (memcached
// answers "out of memory" when a class has no page to give) and goes on.
func (m *mcConn) setRoundTrip() (refused int, err error) {
	_ = m.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := m.c.Write(m.wbuf); err != nil {
		return 0, err
	}
	for range m.kinds {
		line, err := m.r.ReadSlice('\n')
		if err != nil {
			return refused, err
		}
		switch {
		case string(line) == "STORED\r\n":
		case strings.HasPrefix(string(line), "SERVER_ERROR "):
			refused++
		default:
			return refused, fmt.Errorf("%w: %q", errReply, line)
		}
	}
	m.wbuf, m.kinds = m.wbuf[:0], m.kinds[:0]
	return refused, nil
}

// statsOf reads "stats" from addr.
func statsOf(addr string) (map[string]string, error) {
	c, err := dialMC(addr, 64<<10)
	if err != nil {
		return nil, err
	}
	defer c.close()
	_ = c.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.c.Write([]byte("stats\r\n")); err != nil {
		return nil, err
	}
	st := map[string]string{}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "END\r\n" {
			return st, nil
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
			st[f[1]] = f[2]
		}
	}
}

// storeReport is what the store suite measured: per server, the medians.
type storeReport struct {
	When   string
	Rounds int
	MemMiB int64
	Fill   float64
	// Fills[server][kind] and Sat[server]["c50/d1"] are per-round results.
	Fills map[string]map[string][]fillResult
	Sat   map[string]map[string][]result
	Names []string
	Runs  []string // saturation run names in order
}

func ints(list string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive numbers separated by commas", list)
		}
		out = append(out, n)
	}
	return out, nil
}

// quietly runs one measurement until the machine stayed quiet around it, at
// most 1+retries times, and returns the last one's other work.
func quietly(c *storeConfig, pid int, what string, stderr io.Writer, run func() error) (float64, error) {
	for try := 0; ; try++ {
		o, err := startOther(pid)
		if err != nil {
			return 0, err
		}
		if err := run(); err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		other, err := o.share()
		if err != nil {
			return 0, err
		}
		if other <= c.quietMax || try == c.retries {
			return other, nil
		}
		fmt.Fprintf(stderr, "%s disturbed: other work took %.0f%% of the machine; again\n", what, 100*other)
	}
}

// runStore runs the fills, then the saturation loads, and reports.
func runStore(ctx context.Context, c storeConfig, stdout, stderr io.Writer) error {
	if len(c.servers) < 2 || c.rounds < 1 || c.memMiB < 1 || c.fill <= 0 {
		return errors.New("want two -server, -rounds >= 1, -m >= 1, -fill > 0")
	}
	conns, err := ints(c.conns)
	if err != nil {
		return err
	}
	depths, err := ints(c.depths)
	if err != nil {
		return err
	}
	rep := storeReport{When: time.Now().UTC().Format(time.RFC3339), Rounds: c.rounds, MemMiB: c.memMiB, Fill: c.fill,
		Fills: map[string]map[string][]fillResult{}, Sat: map[string]map[string][]result{}}
	for _, s := range c.servers {
		rep.Names = append(rep.Names, s.Name)
		rep.Fills[s.Name] = map[string][]fillResult{}
		rep.Sat[s.Name] = map[string][]result{}
	}
	target := int64(c.fill * float64(c.memMiB<<20))
	for round := range c.rounds {
		for k, kind := range fillKinds {
			for i := range c.servers {
				s := c.servers[(i+round+k)%len(c.servers)]
				if ctx.Err() != nil {
					return ctx.Err()
				}
				p, err := startServer(ctx, s, c.logDir)
				if err != nil {
					return err
				}
				var r fillResult
				what := fmt.Sprintf("round %d/%d fill %s %s", round+1, c.rounds, kind.name, s.Name)
				r.Other, err = quietly(&c, p.cmd.Process.Pid, what, stderr, func() (err error) {
					r, err = runFill(p.addr, p.cmd.Process.Pid, k, target)
					return err
				})
				p.stop()
				if err != nil {
					return err
				}
				fmt.Fprintf(stderr, "%s: %d sets (%d refused), RSS %.1f MiB, %d items\n", what, r.Sets, r.Errors, float64(r.RSS)/(1<<20), r.Items)
				rep.Fills[s.Name][kind.name] = append(rep.Fills[s.Name][kind.name], r)
			}
		}
	}
	procs := make([]*proc, 0, len(c.servers))
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, s := range c.servers {
		p, err := startServer(ctx, s, c.logDir)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for round := range c.rounds {
		for _, n := range conns {
			for _, d := range depths {
				name := fmt.Sprintf("c%d/d%d", n, d)
				if round == 0 {
					rep.Runs = append(rep.Runs, name)
				}
				for i := range procs {
					p := procs[(i+round)%len(procs)]
					if ctx.Err() != nil {
						return ctx.Err()
					}
					l := load{Addr: p.addr, PID: p.cmd.Process.Pid, Conns: n, Total: 1 << 40, Duration: c.dur,
						GetRatio: 0.9, ValueSize: 32, Keys: c.keys, Pipeline: d}
					var r result
					what := fmt.Sprintf("round %d/%d %s %s", round+1, c.rounds, name, p.spec.Name)
					other, err := quietly(&c, l.PID, what, stderr, func() (err error) {
						r, err = runReq(l)
						return err
					})
					if err != nil {
						return err
					}
					r.Other = other
					fmt.Fprintf(stderr, "%s: %s\n", what, r)
					rep.Sat[p.spec.Name][name] = append(rep.Sat[p.spec.Name][name], r)
				}
			}
		}
	}
	rep.print(stdout)
	return writeResults(c.jsonOut, rep, c.svgOut, rep.svg())
}
