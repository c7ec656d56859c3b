// Command soak runs handoffd under mixed load, connection churn and periodic
// faults at once, samples its resident memory, open fds, OS threads and
// goroutines, and fails if any of them trends upward (see tolerance in trend.go), if any
// request it did not mean to provoke fails, or if the fd count does not
// return to its baseline once the load stops (P5 no fd leak, spec/SPEC.md).
// It judges handoffd from outside only, through its stats and /proc with
// package reliability's probes, and imports none of the server's packages,
// so what it soaks is the process a user runs.
//
//	soak -duration 10m                 # builds and starts handoffd itself
//	soak -duration 10m -addr 127.0.0.1:11211
//
// The load: -mixed connections doing gets and sets of up to 16 KiB over a
// bounded key space, -churn goroutines connecting, asking and closing, and
// every -fault-every one fault in turn: random bytes from 100 connections,
// a burst of connections past -c, 20 idle clients left for the idle timeout,
// two slow readers that pipeline gets of a 256 KiB value and never read.
// Memory, fds and threads are read from /proc; goroutines from stats
// (goroutines, handoffd's extension), since no other process can count them.
//
// With -addr the server must be a handoffd on this machine (its /proc is
// read, its pid and goroutines taken from stats) and have no other clients:
// at the end only the sampler's connection may be left.
//
// The series is printed as it is sampled, the verdict at the end, and the
// series is drawn to -svg. Exit status 0 when it passes, 1 when it fails,
// 2 for bad flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/handoffd/handoff/internal/procstat"
	"github.com/handoffd/handoff/reliability"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the parsed flags.
type options struct {
	duration, every, faultEvery, idle     time.Duration
	addr, bin, svg                        string
	mixed, churn, keys, maxConns, threads int
}

func parse(args []string, stderr io.Writer) (*options, bool) {
	o := &options{}
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long to run the load")
	fs.DurationVar(&o.every, "every", 0, "sampling interval (default: duration/120, from 500ms to 10s)")
	fs.DurationVar(&o.faultEvery, "fault-every", 5*time.Second, "interval between faults")
	fs.StringVar(&o.addr, "addr", "", "address of a running handoffd on this machine (default: build and start one)")
	fs.StringVar(&o.bin, "bin", "", "handoffd binary to start (default: go build it)")
	fs.StringVar(&o.svg, "svg", "soak.svg", "where to draw the series (empty: nowhere)")
	fs.IntVar(&o.mixed, "mixed", 8, "long-lived connections doing gets and sets")
	fs.IntVar(&o.churn, "churn", 4, "goroutines connecting, asking and closing")
	fs.IntVar(&o.keys, "keys", 10000, "key space of the mixed load (10000 keys of up to 16 KiB overflow -m 64, so items are evicted)")
	fs.IntVar(&o.maxConns, "c", 256, "-c of the handoffd started")
	fs.IntVar(&o.threads, "t", 2, "-t of the handoffd started")
	fs.DurationVar(&o.idle, "idle", 2*time.Second, "idle_timeout of the handoffd started (whole seconds)")
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if o.duration <= 0 || o.mixed < 1 || o.churn < 0 || o.keys < 1 || o.idle < 0 || o.idle%time.Second != 0 {
		fmt.Fprintln(stderr, "soak: -duration, -mixed and -keys must be positive; -churn not negative; -idle whole seconds")
		return nil, false
	}
	if o.every == 0 {
		o.every = min(max(o.duration/120, 500*time.Millisecond), 10*time.Second)
	}
	return o, true
}

func run(args []string, stdout, stderr io.Writer) int {
	o, ok := parse(args, stderr)
	if !ok {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "soak: "+format+"\n", a...)
		return 1
	}

	var d *reliability.Daemon
	addr, pid := o.addr, 0
	if addr == "" {
		bin := o.bin
		if bin == "" {
			dir, err := os.MkdirTemp("", "handoff-soak-")
			if err != nil {
				return fail("%v", err)
			}
			defer os.RemoveAll(dir)
			if bin, err = reliability.BuildHandoffd(dir); err != nil {
				return fail("%v\n(run soak inside handoff's checkout, or give -bin or -addr)", err)
			}
		}
		var err error
		d, err = reliability.Start(bin, reliability.Options{Args: []string{
			"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.maxConns), "-m", "64", "-I", "1m",
			"-o", fmt.Sprintf("idle_timeout=%d", int(o.idle.Seconds())),
		}})
		if err != nil {
			return fail("%v", err)
		}
		defer d.Kill()
		addr, pid = d.Addr, d.Pid
	}
	c, err := reliability.Dial(addr, 10*time.Second)
	if err != nil {
		return fail("%v", err)
	}
	st, err1 := c.Stats()
	set, err2 := c.StatsGroup("settings")
	c.Close()
	if err1 != nil || err2 != nil {
		return fail("stats of %s: %v %v", addr, err1, err2)
	}
	if pid == 0 {
		pid = int(st.Uint("pid"))
	}
	if _, ok := st["goroutines"]; !ok {
		return fail("stats of %s has no goroutines figure: soak a handoffd that reports it", addr)
	}
	maxConns := int(set.Uint("maxconns"))
	idle := time.Duration(set.Uint("idle_timeout")) * time.Second
	if idle > 0 && idle <= keepAlive {
		return fail("idle_timeout %v is under the sampler's keep-alive %v", idle, keepAlive)
	}
	if _, err := reliability.ReadProc(pid); err != nil {
		return fail("handoffd (pid %d) is not readable in /proc; soak a server on this machine: %v", pid, err)
	}

	smp := &sampler{addr: addr, pid: pid}
	defer smp.close()
	baseline, err := settledFDs(smp)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "soak: %s (pid %d, -c %d, idle_timeout %v) for %v, sampling every %v; %d mixed conns, %d churning, a fault every %v; baseline %d fds\n",
		addr, pid, maxConns, idle, o.duration, o.every, o.mixed, o.churn, o.faultEvery, baseline)

	l := &load{addr: addr, keys: o.keys}
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range o.mixed {
		wg.Go(func() { l.mixed(ctx, i) })
	}
	for i := range o.churn {
		wg.Go(func() { l.churn(ctx, i) })
	}
	wg.Go(func() { l.runFaults(ctx, o.faultEvery, maxConns, idle) })

	start := time.Now()
	var series []sample
	fmt.Fprintln(stdout, sampleHeader)
	tick := time.NewTicker(keepAlive)
	next := start
	for ctx.Err() == nil {
		if now := time.Now(); !now.Before(next) {
			sm, err := smp.take(now.Sub(start).Seconds(), l.requests.Load())
			if err != nil {
				cancel()
				wg.Wait()
				return fail("sampling handoffd: %v (did it die?)", err)
			}
			series = append(series, sm)
			fmt.Fprintln(stdout, sm)
			next = next.Add(o.every)
		} else {
			smp.ping()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	tick.Stop()
	wg.Wait()
	failed := false

	// Quiesced: only the sampler's connection is left, and the fds must be
	// back to the baseline (P5 no fd leak).
	var after sample
	quiet := time.Now()
	for {
		after, err = smp.take(time.Since(start).Seconds(), l.requests.Load())
		if err != nil {
			return fail("sampling handoffd after the load: %v", err)
		}
		if (after.ok && after.curr == 1 && after.fds == baseline) || time.Since(quiet) > 15*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "\nafter the load: %d fds (baseline %d), curr_connections %d\n", after.fds, baseline, after.curr)
	if after.fds != baseline || after.curr != 1 {
		failed = true
		fmt.Fprintf(stdout, "FAIL P5: the fd count or curr_connections did not return to the baseline within 15 s of the load stopping\n")
	}

	xs := make([]float64, len(series))
	rss := make([]float64, len(series))
	fds := make([]float64, len(series))
	thr := make([]float64, len(series))
	conns := make([]float64, len(series))
	// Goroutines come from stats, so only the samples that read stats have
	// them, at their own times.
	var gxs, gor []float64
	for i, s := range series {
		xs[i], rss[i], fds[i], thr[i], conns[i] = s.t, s.rss, float64(s.fds), float64(s.threads), float64(s.curr)
		if s.ok {
			gxs, gor = append(gxs, s.t), append(gor, float64(s.goroutines))
		}
	}
	trends := []trend{
		analyze("rss(MiB)", xs, rss, tolerance{floor: 8, rel: 0.10}),
		analyze("fds", xs, fds, tolerance{floor: 4, rel: 0.10}),
		analyze("threads", xs, thr, tolerance{floor: 2, rel: 0.10}),
		analyze("goroutines", gxs, gor, tolerance{floor: 4, rel: 0.10}),
	}
	fmt.Fprintln(stdout)
	for _, tr := range trends {
		fmt.Fprintln(stdout, tr)
		failed = failed || tr.upward
	}
	if len(series) < 8 || len(gor) < 8 {
		failed = true
		fmt.Fprintf(stdout, "FAIL: only %d samples, %d with stats; run longer or sample more often\n", len(series), len(gor))
	}
	var faults []string
	for f := range numFaults {
		faults = append(faults, fmt.Sprintf("%s %d", faultNames[f], l.faults[f].Load()))
	}
	fmt.Fprintf(stdout, "load: %d requests answered, %d connections, %d refused at -c during bursts; faults: %v\n",
		l.requests.Load(), l.conns.Load(), l.rejected.Load(), faults)
	if n := l.failures.Load(); n > 0 {
		failed = true
		fmt.Fprintf(stdout, "FAIL: %d failed requests or connections; the first:\n", n)
		l.mu.Lock()
		for _, e := range l.firstErr {
			fmt.Fprintln(stdout, "  "+e)
		}
		l.mu.Unlock()
	}

	if o.svg != "" {
		title := fmt.Sprintf("handoffd soak: %v, %d requests, %d connections", o.duration, l.requests.Load(), l.conns.Load())
		chart := svg(title, xs, []chartPanel{
			{"resident memory (MiB)", xs, rss, &trends[0]},
			{"open fds", xs, fds, &trends[1]},
			{"OS threads", xs, thr, &trends[2]},
			{"goroutines", gxs, gor, &trends[3]},
			{"curr_connections", xs, conns, nil},
		})
		if err := os.WriteFile(o.svg, chart, 0o644); err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "chart: %s\n", o.svg)
	}
	if d != nil {
		smp.close()
		took, err := d.Stop(5 * time.Second)
		fmt.Fprintf(stdout, "SIGTERM: exit %v after %v\n", errOrZero(err), took.Round(time.Millisecond))
		if err != nil {
			failed = true
			fmt.Fprintf(stdout, "FAIL P7: handoffd did not exit 0 within 5 s of SIGTERM\n")
		}
	}
	if failed {
		fmt.Fprintln(stdout, "soak: FAIL")
		return 1
	}
	fmt.Fprintln(stdout, "soak: PASS")
	return 0
}

func errOrZero(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

// settledFDs returns the server's fd count once it is the same for 10
// samples 20 ms apart (the Go runtime opens its netpoller lazily).
func settledFDs(s *sampler) (int, error) {
	if _, err := s.stats(); err != nil {
		return 0, err
	}
	last, same := -1, 0
	for deadline := time.Now().Add(10 * time.Second); same < 10; time.Sleep(20 * time.Millisecond) {
		fds, err := procstat.FDs(s.pid)
		n := len(fds)
		if err != nil {
			return 0, err
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("handoffd's fd count never settled")
		}
	}
	return last, nil
}
