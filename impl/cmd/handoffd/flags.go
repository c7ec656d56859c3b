package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
)

// options are the parsed command line.
type options struct {
	listen       []string // reactor addresses: tcp://host:port, unix://path
	port         int
	inter        string // -l as given, for stats settings
	socket       string
	socketMask   os.FileMode // -a: the unix socket's permissions
	threads      int
	acceptors    int
	maxConns     int
	maxBytes     int64
	itemMax      int
	factor       float64 // -f: growth factor between slab classes
	minChunk     int     // -n: key and value bytes of the smallest chunk
	backlog      int
	reqsPerEvent int
	idle         time.Duration
	io           string
	notify       string
	wakeup       string
	balance      string
	verbose      int    // the count of -v: 1 logs informational records, 2 debug ones too
	user         string // -u: the user to run as once the listeners are bound
	pidFile      string // -P
	daemon       bool   // -d
	flushOff     bool   // -F
	shutdownCmd  bool   // -A
	noWatch      bool   // -W
	noEvict      bool   // -M
	noCAS        bool   // -C
	noDump       bool   // -X
	crawlerOff   bool   // -o no_lru_crawler, no_modern
	watcherBuf   int    // -o watcher_logbuf_size, in bytes; 0: memcached's default
	pprof        string // --pprof: a loopback address for Go's profiler; "": off
	binding      memcache.Binding
	delimiter    byte // -D: stats detail's prefix delimiter, and detail on; 0: unset
	// ignored are the flags and -o options accepted for memcached command
	// lines that mean nothing here, logged once at start.
	ignored []string
}

// verbosity is memcached's count of v flags, at most 2.
func (o *options) verbosity() int { return min(o.verbose, 2) }

// Exit statuses of parseFlags: stop after printing what was asked (-h, -V,
// -i), or refuse the command line.
const (
	exitDone  = 0
	exitUsage = 2
)

// version is what -V prints and the version command answers: handoffd's own
// version, then the memcached version whose protocol it speaks.
const version = "handoffd 0.1.0 (memcached 1.6.18)"

// protocolVersion is what the version command and stats report: memcached's
// version first, which clients parse (major.minor.patch, as libmemcached
// reads it) to learn the protocol spoken, then handoffd's own, as a git
// build of memcached suffixes its version, so that an inventory can tell the
// two apart.
const protocolVersion = "1.6.18-handoffd-0.1.0"

// foreignFlag is one of memcached 1.6.18's flags that handoffd cannot act
// on: its long and short names, whether it takes a value, and why.
type foreignFlag struct {
	name, short string
	value       bool
	why         string
}

// memcachedIgnored are accepted so that a memcached command line starts
// handoffd, having nothing to act on here; each is logged at start.
var memcachedIgnored = []foreignFlag{
	{"lock-memory", "k", false, "memory is not locked"},
	{"enable-coredumps", "r", false, "the core file limit is left as it is"},
	{"enable-largepages", "L", false, "no large pages"},
	{"napi-ids", "N", true, "no NAPI thread selection"},
}

// memcachedRefused are for features handoffd lacks and cannot pretend to
// have: a command line that asks for one is refused.
var memcachedRefused = []foreignFlag{
	{"enable-ssl", "Z", false, "TLS is not supported"},
	{"enable-sasl", "S", false, "SASL is not supported"},
	{"auth-file", "Y", true, "token authentication is not supported"},
	{"memory-file", "e", true, "restartable memory files are not supported"},
}

// extendedIgnored are memcached 1.6.18's -o options that mean nothing here
// (they tune its slab allocator, LRU, crawler, hash table, extstore, TLS or
// proxy); each is accepted and logged. Any other -o option but idle_timeout
// is refused, as memcached refuses an unknown one.
var extendedIgnored = map[string]bool{
	"maxconns_fast": true, "hashpower": true, "no_hashexpand": true, "slab_reassign": true,
	"slab_automove": true, "slab_automove_ratio": true, "slab_automove_window": true,
	"tail_repair_time": true, "hash_algorithm": true, "lru_crawler_sleep": true,
	"lru_crawler_tocrawl": true, "lru_maintainer": true, "hot_lru_pct": true, "warm_lru_pct": true,
	"hot_max_factor": true, "warm_max_factor": true, "temporary_ttl": true,
	"worker_logbuf_size": true, "slab_sizes": true, "slab_chunk_max": true, "track_sizes": true,
	"no_inline_ascii_resp": true, "modern": true, "no_chunked_items": true,
	"no_slab_reassign": true, "no_slab_automove": true, "no_maxconns_fast": true,
	"inline_ascii_resp": true, "no_lru_maintainer": true,
	"no_drop_privileges": true, "drop_privileges": true, "resp_obj_mem_limit": true,
	"read_buf_mem_limit": true, "relaxed_privileges": true, "sock_cookie_id": true,
	"ext_page_size": true, "ext_wbuf_size": true, "ext_threads": true, "ext_io_depth": true,
	"ext_path": true, "ext_item_size": true, "ext_item_age": true, "ext_low_ttl": true,
	"ext_recache_rate": true, "ext_compact_under": true, "ext_drop_under": true,
	"ext_max_sleep": true, "ext_max_frag": true, "slab_automove_freeratio": true, "ext_drop_unread": true,
}

// parseFlags reads memcached 1.6.18's command line with getopt's rules
// (attached values as in -p11211, combined flags as in -vv, long forms as in
// --port=11211), and handoffd's own long options. It returns nil and the
// exit status when the program must stop: 0 after -h, -V or -i (printed to
// stdout, as memcached does), 2 for a command line it refuses, with the
// reason on stderr.
func parseFlags(args []string, stdout, stderr io.Writer) (*options, int) {
	o := &options{}
	fs := pflag.NewFlagSet("handoffd", pflag.ContinueOnError)
	// A parse error is reported once, by bad below, not with pflag's
	// whole usage after it.
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.IntVarP(&o.port, "port", "p", 11211, "TCP `port` to listen on (0: a free port, printed at start)")
	fs.StringVarP(&o.inter, "listen", "l", "127.0.0.1", "comma-separated `addresses` to listen on; an entry may carry its own port")
	fs.StringVarP(&o.socket, "unix-socket", "s", "", "unix socket `path`; alone (without -l or -p) it replaces TCP")
	mask := fs.StringP("unix-mask", "a", "0700", "access `mask` of the unix socket, in octal")
	fs.IntVarP(&o.threads, "threads", "t", 4, "number of worker `threads` (event loops)")
	fs.IntVarP(&o.maxConns, "conn-limit", "c", 1024, "max simultaneous `connections`")
	mem := fs.StringP("memory-limit", "m", "64", "item memory in `megabytes`, or with a k, m or g suffix")
	item := fs.StringP("max-item-size", "I", "1m", "max item `size`, with a k or m suffix; at most half of -m")
	fs.IntVarP(&o.backlog, "listen-backlog", "b", 1024, "listen `backlog`")
	fs.IntVarP(&o.reqsPerEvent, "max-reqs-per-event", "R", 20, "max `requests` per event before a connection yields")
	opts := fs.StringArrayP("extended", "o", nil, "comma-separated extended `options`: idle_timeout=N (seconds); memcached's others are accepted and ignored")
	udp := fs.IntP("udp-port", "U", 0, "UDP `port`; only 0 (UDP off) is supported")
	fs.CountVarP(&o.verbose, "verbose", "v", "verbose: -v logs informational records, -vv debug ones too")
	fs.StringVarP(&o.user, "user", "u", "", "`user` to run as once the listeners are bound; required when started as root")
	fs.StringVarP(&o.pidFile, "pidfile", "P", "", "write the process id to this `file`, removed at exit")
	fs.BoolVarP(&o.daemon, "daemon", "d", false, "run as a daemon, detached from the terminal")
	fs.BoolVarP(&o.flushOff, "disable-flush-all", "F", false, "answer flush_all with an error")
	fs.BoolVarP(&o.shutdownCmd, "enable-shutdown", "A", false, "let the shutdown command stop the server")
	fs.BoolVarP(&o.noWatch, "disable-watch", "W", false, "answer the watch command with an error")
	fs.BoolVarP(&o.noEvict, "disable-evictions", "M", false, "return an error when memory is exhausted instead of evicting items")
	fs.BoolVarP(&o.noCAS, "disable-cas", "C", false, "disable CAS: uniques are 0, and every cas matches")
	fs.BoolVarP(&o.noDump, "disable-dumping", "X", false, "refuse stats cachedump and lru_crawler metadump")
	proto := fs.StringP("protocol", "B", "auto", "protocol: auto (each connection's first byte chooses), ascii or binary")
	delim := fs.StringP("prefix-delimiter", "D", "", "prefix delimiter `char` of stats detail, which it turns on")
	help := fs.BoolP("help", "h", false, "print this help and exit")
	showVersion := fs.BoolP("version", "V", false, "print the version and exit")
	license := fs.BoolP("license", "i", false, "print the license and exit")
	foreign := map[string]foreignFlag{}
	for _, list := range []struct {
		flags []foreignFlag
		usage string
	}{{memcachedIgnored, "accepted for memcached command lines, ignored: "}, {memcachedRefused, "refused: "}} {
		for _, f := range list.flags {
			foreign[f.name] = f
			if f.value {
				fs.StringP(f.name, f.short, "", list.usage+f.why)
			} else {
				fs.BoolP(f.name, f.short, false, list.usage+f.why)
			}
		}
	}
	fs.Float64VarP(&o.factor, "slab-growth-factor", "f", 1.25, "chunk size growth factor between slab classes")
	fs.IntVarP(&o.minChunk, "slab-min-size", "n", 48, "key and value bytes of the smallest chunk")
	fs.StringVar(&o.pprof, "pprof", "", "serve Go's profiler on this loopback `address` (host:port); off by default")
	fs.IntVar(&o.acceptors, "acceptors", 1, "acceptor threads; more than 1 binds TCP listeners with SO_REUSEPORT")
	fs.StringVar(&o.io, "io", string(reactor.IOAuto), "system calls the loops are built on: epoll|uring|auto (auto: uring where the kernel allows it, else epoll; --notify or --wakeup alone mean epoll)")
	fs.StringVar(&o.notify, "notify", string(reactor.NotifyPipe), "acceptor→worker notify channel: pipe|eventfd (epoll)")
	fs.StringVar(&o.wakeup, "wakeup", string(reactor.WakeupPerConn), "wake-up policy: per-conn|coalesced (epoll)")
	fs.StringVar(&o.balance, "balance", string(reactor.BalanceRoundRobin), "balancer: rr|least")
	bad := func(format string, a ...any) (*options, int) {
		fmt.Fprintf(stderr, "handoffd: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run handoffd -h for the flags")
		return nil, exitUsage
	}
	if err := fs.Parse(args); err != nil {
		return bad("%v", err)
	}
	switch {
	case *help:
		fmt.Fprintf(stdout, "usage: handoffd [flags]\n\nA memcached-compatible cache on handoff's reactor; the flags are memcached 1.6.18's.\n\n%s", fs.FlagUsages())
		return nil, exitDone
	case *showVersion:
		fmt.Fprintln(stdout, version)
		return nil, exitDone
	case *license:
		fmt.Fprintln(stdout, "handoffd: see the LICENSE file of its source repository")
		return nil, exitDone
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	var refused []string
	fs.Visit(func(pf *pflag.Flag) {
		f, ok := foreign[pf.Name]
		switch {
		case !ok:
		case slices.Contains(memcachedRefused, f):
			refused = append(refused, fmt.Sprintf("-%s: %s", f.short, f.why))
		default:
			o.ignored = append(o.ignored, fmt.Sprintf("-%s (%s)", f.short, f.why))
		}
	})
	if len(refused) > 0 {
		return bad("%s", strings.Join(refused, "; "))
	}
	switch *proto {
	case "auto":
		o.binding = memcache.BindAuto
	case "ascii":
		o.binding = memcache.BindASCII
	case "binary":
		o.binding = memcache.BindBinary
	default:
		return bad("Invalid value for binding protocol: %s -- should be one of auto, binary, or ascii", *proto)
	}
	if fs.Changed("prefix-delimiter") {
		if *delim == "" {
			return bad("No delimiter specified")
		}
		o.delimiter = (*delim)[0]
	}
	if o.port < 0 || o.port > 65535 {
		return bad("-p %d: not a port", o.port)
	}
	if *udp != 0 {
		return bad("-U %d: UDP is not supported; use -U 0", *udp)
	}
	if o.threads < 1 || o.maxConns < 1 || o.acceptors < 1 || o.backlog < 1 || o.reqsPerEvent < 1 {
		return bad("-t, -c, -b, -R and --acceptors must be at least 1")
	}
	m, err := strconv.ParseUint(*mask, 8, 32)
	if err != nil || m > 0o777 {
		return bad("-a %q: want an octal mask such as 0700", *mask)
	}
	o.socketMask = os.FileMode(m)
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
	// memcached's own checks and words.
	if o.factor <= 1 {
		return bad("-f %g: Factor must be greater than 1", o.factor)
	}
	if o.minChunk < 1 {
		return bad("-n %d: Chunk size must be greater than 0", o.minChunk)
	}
	for _, opt := range *opts {
		for _, kv := range strings.Split(opt, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch {
			case k == "":
			case k == "idle_timeout":
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return bad("-o idle_timeout=%q: want seconds, 0 to disable", v)
				}
				o.idle = time.Duration(n) * time.Second
			case k == "no_lru_crawler" || k == "no_modern":
				o.crawlerOff = true
				if k == "no_modern" {
					o.ignored = append(o.ignored, "-o no_modern (but for the crawler, which it stops: nothing modern to turn off)")
				}
			case k == "lru_crawler":
				o.crawlerOff = false
			case k == "watcher_logbuf_size":
				// memcached's words; the size is in kilobytes.
				n, err := strconv.ParseUint(v, 10, 32)
				if v == "" || err != nil {
					return bad("-o watcher_logbuf_size=%q: could not parse argument to watcher_logbuf_size", v)
				}
				o.watcherBuf = int(n) << 10
			case extendedIgnored[k]:
				o.ignored = append(o.ignored, "-o "+k+" (no slab allocator, LRU segments, crawler, extstore, TLS or proxy to tune)")
			default:
				return bad("-o %q: illegal suboption (memcached 1.6.18 has no such option)", k)
			}
		}
	}
	if o.io != "epoll" && o.io != "uring" && o.io != "auto" {
		return bad("--io %q: want epoll, uring or auto", o.io)
	}
	if !fs.Changed("io") && (fs.Changed("notify") || fs.Changed("wakeup")) {
		// The notify channel and the wake-up policy are the epoll
		// hand-off's: asked for, they choose it over io_uring's MSG_RING.
		o.io = string(reactor.IOEpoll)
	}
	for _, c := range []struct{ flag, val, a, b string }{
		{"notify", o.notify, "pipe", "eventfd"},
		{"wakeup", o.wakeup, "per-conn", "coalesced"},
		{"balance", o.balance, "rr", "least"},
	} {
		if c.val != c.a && c.val != c.b {
			return bad("--%s %q: want %s or %s", c.flag, c.val, c.a, c.b)
		}
	}
	if o.socket == "" || fs.Changed("listen") || fs.Changed("port") {
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
