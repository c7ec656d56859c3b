// Command handoffd is a memcached-compatible cache server on handoff's
// reactor. It wires the server together and nothing more: memcached's flags
// become the reactor's and the cache's configuration and the fd limit is
// raised to fit -c, while the protocol lives in impl/memcache and the event
// loops in impl/reactor.
//
// It speaks memcached's text protocol (classic and meta commands) and takes
// memcached's flags, so memcached clients and tools work with it unchanged.
//
//	handoffd -p 11211 -l 127.0.0.1 -t 4 -c 1024 -m 64 -I 1m -u memcache
//	handoffd -s /tmp/handoffd.sock --notify eventfd --wakeup coalesced
//
// SIGTERM or SIGINT stops it gracefully (every connection closed, every
// goroutine joined) with exit status 0. Bad flags exit with status 2, a
// server that cannot start with status 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// daemonEnv marks the copy that -d starts, which serves instead of starting
// another.
const daemonEnv = "HANDOFFD_DAEMONIZED"

// reapEvery is how often expired items are swept (memcached's LRU crawler
// runs on a similar scale).
const reapEvery = time.Second

// run parses args, serves until ctx is done, and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseFlags(args, stdout, stderr)
	if o == nil {
		return code
	}
	// memcached's rule: root must name the user to run as.
	if runningAsRoot() && o.user == "" {
		fmt.Fprintln(stderr, "handoffd: can't run as root without the -u switch")
		return exitUsage
	}
	if o.daemon && os.Getenv(daemonEnv) == "" {
		pid, err := daemonize(args)
		if err != nil {
			fmt.Fprintf(stderr, "handoffd: -d: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "handoffd: running as a daemon, pid %d\n", pid)
		return 0
	}
	level := slog.LevelWarn
	switch {
	case o.verbose >= 2:
		level = slog.LevelDebug
	case o.verbose == 1:
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	for _, f := range o.ignored {
		log.Warn("accepted for memcached command lines, ignored: " + f)
	}

	if lim, err := raiseFDLimit(uint64(o.maxConns) + reservedFDs(o.threads, len(o.listen))); err != nil {
		log.Warn("cannot read or raise the open-file limit", "err", err)
	} else if lim.short {
		log.Warn("open-file limit is below what -c needs; connections beyond it fail with EMFILE (the acceptor pauses and retries)",
			"needed", lim.needed, "limit", lim.cur, "hard_limit", lim.max,
			"effective_maxconns", max(0, int64(lim.cur)-int64(reservedFDs(o.threads, len(o.listen)))))
	}

	store, err := memcache.NewStore(memcache.StoreConfig{MaxBytes: o.maxBytes, ItemMax: o.itemMax, Factor: o.factor, MinChunk: o.minChunk, NoEvict: o.noEvict, NoCAS: o.noCAS})
	if err != nil {
		fmt.Fprintf(stderr, "handoffd: %v\n", err)
		return 2
	}
	// The shutdown command (-A) stops Serve as SIGTERM does.
	ctx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	var shutdown func()
	if o.shutdownCmd {
		shutdown = stopServing
	}
	cache := memcache.NewCache(store, memcache.Settings{
		ReqsPerEvent:    o.reqsPerEvent,
		Verbosity:       o.verbosity(),
		FlushOff:        o.flushOff,
		Binding:         o.binding,
		PrefixDelimiter: o.delimiter,
		Detail:          o.delimiter != 0,
		Shutdown:        shutdown,
		Log:             stderr,
		SocketMask:      uint32(o.socketMask),
		TCPPort:         o.port,
		Inter:           o.inter,
		DomainSocket:    o.socket,
		Version:         protocolVersion,
		ReservedFDs:     int(reservedFDs(o.threads, len(o.listen))),
		NoWatch:         o.noWatch,
		NoDump:          o.noDump,
		CrawlerOff:      o.crawlerOff,
		WatcherBuffer:   o.watcherBuf,
	}, nil)
	proto := memcache.NewProtocol(cache)
	// RaiseProcs: handoffd is the program, and its loops serve best with a
	// P each (reactor.Config.RaiseProcs).
	cfg, err := proto.Config(reactor.Config{
		Listen:      o.listen,
		Workers:     o.threads,
		Acceptors:   o.acceptors,
		IO:          reactor.IO(o.io),
		Notify:      reactor.Notify(o.notify),
		Wakeup:      reactor.Wakeup(o.wakeup),
		Balance:     reactor.Balance(o.balance),
		MaxConns:    o.maxConns,
		Backlog:     o.backlog,
		IdleTimeout: o.idle,
		RaiseProcs:  true,
		Logger:      log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "handoffd: %v\n", err)
		return 1
	}
	rs, err := reactor.New(cfg, proto)
	if err != nil {
		fmt.Fprintf(stderr, "handoffd: %v\n", err)
		return 1
	}
	// Bound: the unix socket's mode, the pid file, then the user to run
	// as (after binding, so that a port below 1024 and a socket in a
	// directory only root may write still work).
	if o.socket != "" {
		if err := os.Chmod(o.socket, o.socketMask); err != nil {
			fmt.Fprintf(stderr, "handoffd: -a: %v\n", err)
			_ = rs.Close()
			return 1
		}
	}
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
			fmt.Fprintf(stderr, "handoffd: -P: %v\n", err)
			_ = rs.Close()
			return 1
		}
		defer os.Remove(o.pidFile)
	}
	if o.pprof != "" {
		bound, stop, err := servePprof(o.pprof)
		if err != nil {
			fmt.Fprintf(stderr, "handoffd: %v\n", err)
			_ = rs.Close()
			return 1
		}
		defer stop()
		fmt.Fprintf(stderr, "handoffd: profiler on http://%s/debug/pprof/\n", bound)
	}
	if o.user != "" && runningAsRoot() {
		if err := dropPrivileges(o.user); err != nil {
			fmt.Fprintf(stderr, "handoffd: %v\n", err)
			_ = rs.Close()
			return 1
		}
	}

	// The listening line is printed at every verbosity: with -p 0 it is the
	// only way to learn the port.
	// The notify channel and the wake-up are the epoll hand-off's: on
	// io_uring, MSG_RING is both.
	handoff := "notify " + o.notify + ", wakeup " + o.wakeup
	if rs.Config().IO == reactor.IOUring {
		handoff = "hand-off msg_ring"
	}
	fmt.Fprintf(stderr, "handoffd: listening on %s (threads %d, maxconns %d, memory %d MiB, item max %d, io %s, %s, balance %s)\n",
		joinAddrs(rs.Addrs()), o.threads, o.maxConns, o.maxBytes>>20, o.itemMax, rs.Config().IO, handoff, o.balance)

	reapCtx, stopReaper := context.WithCancel(context.Background())
	var reaper sync.WaitGroup
	reaper.Go(func() { cache.RunReaper(reapCtx, reapEvery) })
	start := time.Now()
	err = rs.Serve(ctx)
	stopReaper()
	reaper.Wait()
	if !errors.Is(err, reactor.ErrServerClosed) {
		fmt.Fprintf(stderr, "handoffd: %v\n", err)
		return 1
	}
	// curr_connections is 0 after a clean stop (P7): every connection
	// registered was closed once, so the record lets a test or an operator
	// check it from outside the process.
	st := rs.Stats()
	log.Info("stopped", "uptime", time.Since(start).Round(time.Millisecond), "total_connections", st.TotalConns,
		"curr_connections", st.CurrConns, "rejected_connections", st.Rejected, "bytes_read", st.BytesIn, "bytes_written", st.BytesOut)
	fmt.Fprintln(stderr, "handoffd: stopped")
	return 0
}

// joinAddrs lists addresses as handoffd's listening line prints them:
// "tcp://127.0.0.1:11211,unix:///run/handoffd.sock", which the tests and
// operators read back.
func joinAddrs(addrs []net.Addr) string {
	var b strings.Builder
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(reactor.ListenAddr(a))
	}
	return b.String()
}

// reservedFDs is the descriptors the process holds besides connections:
// stdio, listeners (one per acceptor each), and per worker an epoll fd and
// notify and task fds; memcached reserves a similar margin.
func reservedFDs(workers, listeners int) uint64 {
	return uint64(10 + 2*listeners + 4*workers)
}
