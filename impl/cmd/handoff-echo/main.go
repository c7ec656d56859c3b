package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run parses args, serves until ctx is done, and returns the exit status:
// 0 after a clean stop or -h, 2 for bad flags, 1 when the server cannot start.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("handoff-echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("l", "127.0.0.1", "comma-separated `addresses` to listen on (memcached -l)")
	port := fs.Int("p", 11211, "TCP `port` (memcached -p); 0 picks a free port, logged at start")
	sock := fs.String("s", "", "unix socket `path` (memcached -s); alone, it replaces TCP")
	workers := fs.Int("t", runtime.GOMAXPROCS(0), "number of worker event loops (memcached -t)")
	maxConns := fs.Int("c", 1024, "max simultaneous connections (memcached -c)")
	acceptors := fs.Int("acceptors", 1, "acceptor threads; more than 1 uses SO_REUSEPORT")
	ioFlag := fs.String("io", string(reactor.IOEpoll), "backend: epoll|uring|auto")
	notify := fs.String("notify", string(reactor.NotifyPipe), "notify channel: pipe|eventfd")
	wakeup := fs.String("wakeup", string(reactor.WakeupPerConn), "wake-up policy: per-conn|coalesced")
	balance := fs.String("balance", string(reactor.BalanceRoundRobin), "balancer: rr|least")
	idle := fs.Duration("idle-timeout", 0, "close connections idle this long; 0 never (memcached -o idle_timeout)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: handoff-echo [flags]\n\nAn echo server on handoff's reactor.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "handoff-echo: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *port < 0 || *port > 65535 {
		return usageErr("-p %d: not a port", *port)
	}
	if *workers < 1 || *maxConns < 1 || *acceptors < 1 {
		return usageErr("-t, -c and -acceptors must be at least 1")
	}
	if *idle < 0 {
		return usageErr("-idle-timeout must not be negative")
	}
	for _, c := range []struct{ flag, val, a, b string }{
		{"notify", *notify, "pipe", "eventfd"},
		{"wakeup", *wakeup, "per-conn", "coalesced"},
		{"balance", *balance, "rr", "least"},
	} {
		if c.val != c.a && c.val != c.b {
			return usageErr("-%s %q: want %s or %s", c.flag, c.val, c.a, c.b)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var addrs []string
	if *sock == "" || set["l"] || set["p"] {
		for _, h := range strings.Split(*listen, ",") {
			if h = strings.TrimSpace(h); h != "" {
				addrs = append(addrs, "tcp://"+net.JoinHostPort(h, strconv.Itoa(*port)))
			}
		}
	}
	if *sock != "" {
		addrs = append(addrs, "unix://"+*sock)
	}
	if len(addrs) == 0 {
		return usageErr("nothing to listen on")
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := reactor.Config{
		Listen:      addrs,
		Workers:     *workers,
		Acceptors:   *acceptors,
		MaxConns:    *maxConns,
		IO:          reactor.IO(*ioFlag),
		Notify:      reactor.Notify(*notify),
		Wakeup:      reactor.Wakeup(*wakeup),
		Balance:     reactor.Balance(*balance),
		IdleTimeout: *idle,
		RaiseProcs:  true,
		Logger:      log,
	}
	srv, err := reactor.New(cfg, &echo{})
	if err != nil {
		fmt.Fprintf(stderr, "handoff-echo: %v\n", err)
		return 1
	}
	var bound []string
	for _, a := range srv.Addrs() {
		bound = append(bound, reactor.ListenAddr(a))
	}
	log.Info("listening", "addrs", strings.Join(bound, ","), "workers", *workers,
		"notify", *notify, "wakeup", *wakeup, "balance", *balance, "maxconns", *maxConns)
	start := time.Now()
	if err := srv.Serve(ctx); !errors.Is(err, reactor.ErrServerClosed) {
		fmt.Fprintf(stderr, "handoff-echo: %v\n", err)
		return 1
	}
	st := srv.Stats()
	log.Info("stopped", "uptime", time.Since(start).Round(time.Millisecond), "total_connections", st.TotalConns,
		"rejected_connections", st.Rejected, "bytes_in", st.BytesIn, "bytes_out", st.BytesOut)
	return 0
}

// echo writes back every byte it is offered. It consumes only what fits
// under the server's MaxOutput, learned in OnBoot, so a client that sends
// without reading holds at most that much server memory: the reactor stops
// reading it until the output drains, then offers the rest again.
type echo struct {
	reactor.BuiltinHandler
	maxOutput int
}

func (e *echo) OnBoot(s *reactor.Server) error {
	e.maxOutput = s.Config().MaxOutput
	return nil
}

func (e *echo) OnData(c *reactor.Conn, in []byte) int {
	n := min(len(in), e.maxOutput-c.OutputLen())
	if n <= 0 {
		return 0
	}
	_ = c.Write(in[:n])
	return n
}
