package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: handoff-bench conn|req|idle|floor|handoff-floor|netserver|suite|store|chart [flags]
       handoff-bench MODE -h   for a mode's flags
`

// run dispatches to a mode and returns the exit status: 0 on success, 1 when
// the run failed, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	mode, args := args[0], args[1:]
	fs := flag.NewFlagSet("handoff-bench "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var err error
	switch mode {
	case "conn", "req", "idle":
		l, jsonOut, quiet := loadFlags(fs, mode)
		if fs.Parse(args) != nil {
			return 2
		}
		if !*quiet {
			l.Progress = stderr
		}
		if err := checkLoad(mode, *l); err != nil {
			fmt.Fprintf(stderr, "handoff-bench %s: %v\n", mode, err)
			return 2
		}
		err = runLoad(mode, *l, *jsonOut, stdout)
	case "floor", "handoff-floor", "netserver":
		port := fs.Int("p", 11211, "TCP `port` on 127.0.0.1")
		threads := fs.Int("t", 2, "handoff-floor: worker `threads`")
		if fs.Parse(args) != nil {
			return 2
		}
		switch mode {
		case "floor":
			err = serveFloor(ctx, *port)
		case "handoff-floor":
			err = serveHandoffFloor(ctx, *port, max(*threads, 1))
		default:
			err = serveNet(ctx, *port)
		}
	case "suite":
		cfg := suiteFlags(fs)
		if fs.Parse(args) != nil {
			return 2
		}
		err = runSuite(ctx, *cfg, stdout, stderr)
	case "store":
		cfg := storeFlags(fs)
		if fs.Parse(args) != nil {
			return 2
		}
		err = runStore(ctx, *cfg, stdout, stderr)
	case "chart":
		in := fs.String("in", "bench.json", "results `file` written by suite -json")
		out := fs.String("o", "docs/bench.svg", "SVG `file` to write")
		if fs.Parse(args) != nil {
			return 2
		}
		err = chartFile(*in, *out)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "handoff-bench: unknown mode %q\n%s", mode, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "handoff-bench %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// loadFlags declares the flags of the three load modes.
func loadFlags(fs *flag.FlagSet, mode string) (l *load, jsonOut, quiet *bool) {
	l = &load{}
	defConns, defTotal := 16, int64(20000)
	switch mode {
	case "req":
		defConns, defTotal = 64, 1_000_000
	case "idle":
		defConns, defTotal = 4000, 0
	}
	fs.StringVar(&l.Addr, "addr", "127.0.0.1:11211", "server `host:port` (loopback)")
	fs.IntVar(&l.PID, "pid", 0, "server `pid` for CPU and memory figures; 0 skips them")
	fs.IntVar(&l.Conns, "c", defConns, "dialers (conn), connections (req) or idle connections (idle)")
	if mode != "idle" {
		fs.Int64Var(&l.Total, "n", defTotal, "most connections (conn) or requests (req)")
	}
	fs.DurationVar(&l.Duration, "d", 2*time.Second, "longest run")
	if mode == "req" {
		fs.Float64Var(&l.GetRatio, "get", 0.9, "share of gets; the rest are sets")
		fs.IntVar(&l.ValueSize, "value", 32, "value size in `bytes`")
		fs.IntVar(&l.Keys, "keys", 1000, "key space; every key is set once before the run")
		fs.IntVar(&l.Pipeline, "pipeline", 1, "requests per write (pipeline depth)")
	}
	quiet = fs.Bool("q", false, "no progress lines on stderr")
	jsonOut = fs.Bool("json", false, "print the result as JSON")
	return l, jsonOut, quiet
}

// checkLoad rejects parameters that would make a run unbounded or
// meaningless, and an address off loopback.
func checkLoad(mode string, l load) error {
	host, _, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", l.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q: loopback only", l.Addr)
	}
	switch {
	case l.Conns < 1:
		return fmt.Errorf("-c must be at least 1")
	case l.Duration <= 0 || l.Duration > time.Hour:
		return fmt.Errorf("-d must be in (0, 1h]")
	case mode != "idle" && l.Total < 1:
		return fmt.Errorf("-n must be at least 1")
	case mode == "req" && (l.GetRatio < 0 || l.GetRatio > 1):
		return fmt.Errorf("-get must be in [0, 1]")
	case mode == "req" && (l.ValueSize < 0 || l.ValueSize > 1<<20 || l.Keys < 1 || l.Pipeline < 1 || l.Pipeline > 1024):
		return fmt.Errorf("-value in [0, 1MiB], -keys >= 1, -pipeline in [1, 1024]")
	}
	return nil
}

// runLoad runs one load mode and prints its result.
func runLoad(mode string, l load, asJSON bool, stdout io.Writer) error {
	var r result
	var err error
	switch mode {
	case "conn":
		r, err = runConn(l)
	case "req":
		r, err = runReq(l)
	default:
		r, err = runIdle(l)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	_, err = fmt.Fprintln(stdout, r)
	return err
}
