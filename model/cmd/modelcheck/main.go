// Command modelcheck explores every interleaving of one design of handoff's
// models within bounds: a design of the hand-off, checked for P1–P4, or of a
// connection's life after Register, checked for P5–P10 (spec/SPEC.md). It
// is a command line and nothing more: the designs, the search and the
// checks belong in package model, where the tests and the fuzz targets run
// the same code.
//
//	modelcheck -variant NAME [-workers W] [-conns C] [-acceptors A] [-pipecap K] [-overflow O] [-dot FILE]
//	modelcheck -variant NAME [-conns C] [-fds F] [-sends S] [-tasks T] [-bounds I] [-dot FILE]
//	modelcheck -list
//	modelcheck -table
//
// The first form is for a hand-off design, the second for a lifecycle one
// (-bounds picks the I-th of its table's bounds, from 0). A bound left at 0
// takes the design's default. Exit status: 0 when every
// property holds, 1 when one is violated (the output names it and prints the
// shortest counterexample) or, with -table, when any design's result differs
// from its expectation, 2 on bad usage. The output ends with the number of
// states explored.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handoffd/handoff/model"
)

// errUsage marks a command line that cannot run; main exits 2 on it.
var errUsage = errors.New("usage")

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "modelcheck:", err)
	}
	os.Exit(code)
}

// run is modelcheck without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("modelcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	variant := fs.String("variant", "", "design to check (see -list)")
	workers := fs.Int("workers", 0, "number of workers (0: design default)")
	conns := fs.Int("conns", 0, "connections accepted in all (0: design default)")
	acceptors := fs.Int("acceptors", 0, "number of acceptors (0: design default)")
	pipecap := fs.Int("pipecap", 0, "tokens a pipe holds, or completions a worker's CQ holds (0: design default)")
	overflow := fs.Int("overflow", -1, "msgring: completions the kernel holds back while a CQ is full (-1: design default)")
	fds := fs.Int("fds", 0, "lifecycle: fd numbers for connections (0: design default)")
	sends := fs.Int("sends", -1, "lifecycle: units each peer sends (-1: design default)")
	tasks := fs.Int("tasks", -1, "lifecycle: AsyncWrite or Wake calls (-1: design default)")
	which := fs.Int("bounds", 0, "lifecycle: which of the design's table bounds, from 0")
	dot := fs.String("dot", "", "write the counterexample as Graphviz DOT to this file")
	list := fs.Bool("list", false, "list every design with its expected outcome")
	table := fs.Bool("table", false, "check every design at its default bounds and tabulate")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return 2, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "modelcheck: unexpected argument %q\n", fs.Arg(0))
		return 2, errUsage
	}
	switch {
	case *list:
		for _, d := range model.Designs() {
			fmt.Fprintf(stdout, "%-32s %-28s %s\n", d.Name, d.ExpectText(), d.Summary)
		}
		for _, d := range model.LifeDesigns() {
			fmt.Fprintf(stdout, "%-32s %-28s %s\n", d.Name, d.ExpectText(), d.Summary)
		}
		return 0, nil
	case *table:
		return runTable(stdout)
	}
	if ld, ok := model.LookupLifeDesign(*variant); ok {
		tb := ld.TableBounds()
		if *which < 0 || *which >= len(tb) {
			fmt.Fprintf(stderr, "modelcheck: -bounds %d: %s has %d\n", *which, ld.Name, len(tb))
			return 2, errUsage
		}
		b := tb[*which]
		for _, o := range []struct {
			v, unset int
			dst      *int
		}{{*conns, 0, &b.Conns}, {*fds, 0, &b.Fds}, {*sends, -1, &b.Sends}, {*tasks, -1, &b.Tasks}} {
			if o.v != o.unset {
				*o.dst = o.v
			}
		}
		return report(stdout, stderr, *dot, *quiet, func(opt model.Options) (result, error) {
			return model.ExploreLife(ld, b, opt)
		})
	}
	d, ok := model.LookupDesign(*variant)
	if !ok {
		fmt.Fprintf(stderr, "modelcheck: unknown design %q; -list shows them\n", *variant)
		return 2, errUsage
	}
	b := d.DefaultBounds()
	for _, o := range []struct {
		v   int
		dst *int
	}{{*workers, &b.Workers}, {*conns, &b.Conns}, {*acceptors, &b.Acceptors}, {*pipecap, &b.PipeCap}} {
		if o.v != 0 {
			*o.dst = o.v
		}
	}
	if *overflow >= 0 {
		b.Overflow = *overflow
	}
	return report(stdout, stderr, *dot, *quiet, func(opt model.Options) (result, error) {
		return model.Explore(d, b, opt)
	})
}

// result is what report prints of a search: model.Result or
// model.LifeResult.
type result interface {
	String() string
	DOT() string
	Violated() bool
}

// report runs explore, writes its counterexample as DOT to dot if asked,
// prints its result, and returns the exit status: 1 when a property is
// violated.
func report(stdout, stderr io.Writer, dot string, quiet bool, explore func(model.Options) (result, error)) (int, error) {
	start := time.Now()
	r, err := explore(model.Options{Progress: progress(stderr, start, !quiet)})
	if err != nil {
		fmt.Fprintln(stderr, "modelcheck:", err)
		return 2, errUsage
	}
	if dot != "" && r.Violated() {
		if err := os.WriteFile(dot, []byte(r.DOT()), 0o644); err != nil {
			return 2, err
		}
	}
	fmt.Fprintf(stdout, "time: %s\n", time.Since(start).Round(time.Millisecond))
	fmt.Fprint(stdout, r.String())
	if r.Violated() {
		return 1, nil
	}
	return 0, nil
}

// progress returns Explore's progress callback: states, transitions, depth
// and states per second on stderr, once the run has taken two seconds.
func progress(stderr io.Writer, start time.Time, on bool) func(states, transitions, depth int) {
	if !on {
		return nil
	}
	return func(states, transitions, depth int) {
		el := time.Since(start)
		if el < 2*time.Second {
			return
		}
		fmt.Fprintf(stderr, "modelcheck: %d states, %d transitions, depth %d, %.0f states/s\n",
			states, transitions, depth, float64(states)/el.Seconds())
	}
}

// runTable checks every design at its default bounds, and each lifecycle
// design at each of its table's bounds, and prints one row per check as it
// finishes (no progress lines: each row is one); it returns 1 if any result
// differs from the design's expectation.
func runTable(stdout io.Writer) (int, error) {
	fmt.Fprintf(stdout, "%-32s %-12s %-30s %-30s %8s %11s %4s %8s\n", "design", "bounds", "expected", "result", "states", "transitions", "cex", "time")
	code := 0
	total := 0
	row := func(name, bounds, expect string, states, transitions int, v *model.Violation, cexLen int, took time.Duration, width int) {
		result, cex := "holds", "-"
		if v != nil {
			result = string(v.Property) + " violated"
			cex = fmt.Sprint(cexLen)
		}
		mark := ""
		if result != expect {
			mark = "  UNEXPECTED"
			code = 1
		}
		total += states
		fmt.Fprintf(stdout, "%-32s %-*s %-30s %-30s %8d %11d %4s %8s%s\n", name, width, bounds, expect, result,
			states, transitions, cex, seconds(took), mark)
	}
	for _, d := range model.Designs() {
		start := time.Now()
		r, err := model.Explore(d, d.DefaultBounds(), model.Options{})
		if err != nil {
			return 2, err
		}
		b := r.Bounds
		bounds := fmt.Sprintf("%d/%d/%d/%d", b.Workers, b.Conns, b.Acceptors, b.PipeCap)
		if b.Overflow > 0 {
			bounds += fmt.Sprintf("/%d", b.Overflow)
		}
		row(d.Name, bounds, d.ExpectText(),
			r.States, r.Transitions, r.Violation, len(r.Trace)-1, time.Since(start), 12)
	}
	fmt.Fprintln(stdout, "bounds: workers/conns/acceptors/pipecap[/overflow]; cex: counterexample steps")
	fmt.Fprintf(stdout, "\n%-32s %-44s %-30s %-30s %8s %11s %4s %8s\n", "lifecycle design", "bounds", "expected", "result", "states", "transitions", "cex", "time")
	for _, d := range model.LifeDesigns() {
		for _, b := range d.TableBounds() {
			start := time.Now()
			r, err := model.ExploreLife(d, b, model.Options{})
			if err != nil {
				return 2, err
			}
			row(d.Name, b.String(), d.ExpectText(), r.States, r.Transitions, r.Violation, len(r.Trace)-1, time.Since(start), 44)
		}
	}
	fmt.Fprintln(stdout, "bounds: C peers, F fd numbers, S units sent per peer, T AsyncWrite/Wake calls, K send buffer,")
	fmt.Fprintln(stdout, "  B MaxOutput, E units written per request, R units per request, M MaxConns (units: abstract bytes);")
	fmt.Fprintln(stdout, "  +wake: the first call a Wake; +reset, +quit: peers may reset, or end with a quit;")
	fmt.Fprintln(stdout, "  +idle: idle timeout; +ctl: epoll_ctl may fail; +shut: Shutdown at any moment")
	if code != 0 {
		fmt.Fprintln(stdout, "FAIL: a design's result differs from its expectation")
	}
	fmt.Fprintf(stdout, "states explored: %d\n", total)
	return code, nil
}

// seconds renders d in seconds with three decimals, as the table prints it.
func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
