package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

// options are the parsed command line.
type options struct {
	listen       []string // reactor addresses: tcp://host:port, unix://path
	port         int
	inter        string // -l as given, for stats settings
	socket       string
	threads      int
	acceptors    int
	maxConns     int
	maxBytes     int64
	itemMax      int
	backlog      int
	reqsPerEvent int
	idle         time.Duration
	notify       string
	wakeup       string
	balance      string
	v, vv        bool
}

// verbosity is memcached's count of v flags.
func (o *options) verbosity() int {
	switch {
	case o.vv:
		return 2
	case o.v:
		return 1
	}
	return 0
}

// parseFlags reads memcached's flags. It returns nil and the exit status
// when the program must stop: 0 after -h, 2 for a bad flag, with the reason
// and the usage on stderr.
func parseFlags(args []string, stderr io.Writer) (*options, int) {
	o := &options{}
	fs := flag.NewFlagSet("handoffd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.port, "p", 11211, "TCP `port` to listen on (0: a free port, printed at start)")
	fs.StringVar(&o.inter, "l", "127.0.0.1", "comma-separated `addresses` to listen on; an entry may carry its own port (host:port, [v6]:port)")
	fs.StringVar(&o.socket, "s", "", "unix socket `path`; alone (without -l or -p) it replaces TCP")
	fs.IntVar(&o.threads, "t", 4, "number of worker `threads` (event loops)")
	fs.IntVar(&o.maxConns, "c", 1024, "max simultaneous `connections`")
	mem := fs.String("m", "64", "item memory in `megabytes`, or with a k, m or g suffix in KiB, MiB or GiB")
	item := fs.String("I", "1m", "max item `size` (key, value and overhead), with k or m suffix; at most half of -m")
	fs.IntVar(&o.backlog, "b", 1024, "listen `backlog`")
	fs.IntVar(&o.reqsPerEvent, "R", 20, "max `requests` per event before a connection yields to others")
	opts := fs.String("o", "", "comma-separated extended `options`: idle_timeout=N (seconds)")
	udp := fs.Int("U", 0, "UDP `port`; only 0 (UDP off) is supported, accepted for memcached command lines")
	fs.BoolVar(&o.v, "v", false, "verbose: log informational records")
	fs.BoolVar(&o.vv, "vv", false, "very verbose: log debug records too")
	fs.IntVar(&o.acceptors, "acceptors", 1, "acceptor threads; more than 1 binds TCP listeners with SO_REUSEPORT")
	fs.StringVar(&o.notify, "notify", string(reactor.NotifyPipe), "acceptor→worker notify channel: pipe|eventfd")
	fs.StringVar(&o.wakeup, "wakeup", string(reactor.WakeupPerConn), "wake-up policy: per-conn|coalesced")
	fs.StringVar(&o.balance, "balance", string(reactor.BalanceRoundRobin), "balancer: rr|least")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: handoffd [flags]\n\nA memcached-compatible cache on handoff's reactor; the flags are memcached's.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	bad := func(format string, a ...any) (*options, int) {
		fmt.Fprintf(stderr, "handoffd: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run handoffd -h for the flags")
		return nil, 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if o.port < 0 || o.port > 65535 {
		return bad("-p %d: not a port", o.port)
	}
	if *udp != 0 {
		return bad("-U %d: UDP is not supported; use -U 0", *udp)
	}
	if o.threads < 1 || o.maxConns < 1 || o.acceptors < 1 || o.backlog < 1 || o.reqsPerEvent < 1 {
		return bad("-t, -c, -b, -R and -acceptors must be at least 1")
	}
	var err error
	if o.maxBytes, err = parseSize(*mem, 1<<20); err != nil || o.maxBytes < 1<<20 {
		return bad("-m %q: want megabytes, at least 1 (%v)", *mem, err)
	}
	itemMax, err := parseSize(*item, 1)
	if err != nil || itemMax < 1024 || itemMax > 1<<30 {
		return bad("-I %q: want a size from 1k to 1024m, like 512k or 2m (%v)", *item, err)
	}
	o.itemMax = int(itemMax)
	if int64(o.itemMax) > o.maxBytes/2 {
		return bad("-I %s is more than half of -m %s: memcached refuses this too", *item, *mem)
	}
	if *opts != "" {
		for _, kv := range strings.Split(*opts, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch k {
			case "idle_timeout":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return bad("-o idle_timeout=%q: want seconds, 0 to disable", v)
				}
				o.idle = time.Duration(n) * time.Second
			default:
				return bad("-o %q: unknown option (supported: idle_timeout=N)", k)
			}
		}
	}
	for _, c := range []struct{ flag, val, a, b string }{
		{"notify", o.notify, "pipe", "eventfd"},
		{"wakeup", o.wakeup, "per-conn", "coalesced"},
		{"balance", o.balance, "rr", "least"},
	} {
		if c.val != c.a && c.val != c.b {
			return bad("-%s %q: want %s or %s", c.flag, c.val, c.a, c.b)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.socket == "" || set["l"] || set["p"] {
		for _, h := range strings.Split(o.inter, ",") {
			h = strings.TrimSpace(h)
			if h == "" {
				continue
			}
			addr, err := listenAddr(h, o.port)
			if err != nil {
				return bad("-l %q: %v", h, err)
			}
			o.listen = append(o.listen, "tcp://"+addr)
		}
	}
	if o.socket != "" {
		o.listen = append(o.listen, "unix://"+o.socket)
	}
	if len(o.listen) == 0 {
		return bad("nothing to listen on: give -l or -s")
	}
	return o, 0
}

// listenAddr joins a -l entry with the -p port unless it carries its own
// (memcached accepts "-l 127.0.0.1:11212").
func listenAddr(h string, port int) (string, error) {
	if host, p, err := net.SplitHostPort(h); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return "", fmt.Errorf("bad port %q", p)
		}
		return net.JoinHostPort(host, p), nil
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return net.JoinHostPort(h, strconv.Itoa(port)), nil
}

// parseSize reads a size: a plain number counts in units of unit, and a k, m
// or g suffix (either case) counts in KiB, MiB or GiB.
func parseSize(s string, unit int64) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty")
	}
	mult := unit
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1<<20, s[:len(s)-1]
	case 'g', 'G':
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("out of range")
	}
	return n * mult, nil
}
