// Command lincheck records histories from a running reactor and from
// handoffd's cache on it, at full size, and checks with porcupine that they
// are linearizable. It is a command line and nothing more: every recorder,
// model and broken twin lives in package linearizability, whose tests run the
// same checks smaller.
//
// It prints one line per check:
//
//	lincheck round-robin: 10240 operations, 64 clients, Ok in 1.2s
//	lincheck kv: 10240 operations, 64 clients, Ok in 2.1s
//
// Every recorded history must be Ok and every broken twin Illegal; an
// Unknown (timed-out) search is a failure. It exits 1 if any check failed,
// after printing the path of porcupine's visualization of each failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/linearizability"
)

func main() {
	p := linearizability.FullPlan()
	flag.IntVar(&p.Workers, "workers", p.Workers, "workers of every server")
	flag.IntVar(&p.Clients, "clients", p.Clients, "concurrent clients")
	flag.IntVar(&p.Ops, "ops", p.Ops, "connects in the single-acceptor run")
	flag.IntVar(&p.AcceptorOps, "acceptor-ops", p.AcceptorOps, "connects in each K-acceptor run")
	flag.DurationVar(&p.Timeout, "timeout", p.Timeout, "bound on each porcupine search")
	flag.StringVar(&p.Dir, "dir", "", "directory for the visualizations of failed checks (default: the temp dir)")
	io := flag.String("io", "epoll", "the servers' backend: epoll|uring|auto")
	kv := linearizability.FullKVPlan()
	flag.IntVar(&kv.Clients, "kv-clients", kv.Clients, "concurrent clients of the cache in the kv check")
	flag.IntVar(&kv.Ops, "kv-ops", kv.Ops, "commands in the kv check")
	flag.Parse()
	p.IO = reactor.IO(*io)
	kv.IO = p.IO
	kv.Workers, kv.Timeout, kv.Dir = p.Workers, p.Timeout, p.Dir

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	failed := 0
	report := func(v linearizability.Verdict) {
		fmt.Println(v)
		if !v.Passed() {
			failed++
		}
	}
	verdicts, err := linearizability.Suite(ctx, p, report)
	if err == nil {
		var kvVerdicts []linearizability.Verdict
		kvVerdicts, err = linearizability.KVSuite(ctx, kv, report)
		verdicts = append(verdicts, kvVerdicts...)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lincheck:", err)
		os.Exit(1)
	}
	if failed > 0 {
		fmt.Printf("lincheck: %d of %d checks failed\n", failed, len(verdicts))
		os.Exit(1)
	}
	fmt.Printf("lincheck: all %d checks passed in %.1fs\n", len(verdicts), time.Since(start).Seconds())
}
