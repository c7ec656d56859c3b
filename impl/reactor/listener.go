package reactor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/handoffd/handoff/internal/kernel"
)

// listener is one bound, listening, non-blocking socket.
type listener struct {
	// fd is the listening socket. Immutable until close.
	fd int
	// addr is the bound address, port 0 resolved.
	addr net.Addr
	// path is the unix socket's path, removed on close; "" for TCP and for
	// an inherited socket, whose file is its owner's.
	path string
	// acceptor is the index of the Acceptor whose poll set holds fd.
	acceptor int
}

// bindOpts are Config's listening settings.
type bindOpts struct {
	listen             []string
	listeners          []net.Listener
	acceptors, backlog int
	sock               kernel.SockOpts
}

// bindAll binds every address of o.listen, then takes every socket of
// o.listeners. With several Acceptors every TCP address is bound once per
// Acceptor with SO_REUSEPORT, so the kernel spreads connections over K
// accept queues; a unix socket cannot be shared that way, nor can an
// inherited one, and those belong to Acceptor 0.
func bindAll(k kernel.Kernel, o bindOpts) ([]*listener, error) {
	var out []*listener
	fail := func(err error) ([]*listener, error) {
		for _, ln := range out {
			ln.close(k)
		}
		return nil, err
	}
	opt := o.sock
	for _, a := range o.listen {
		network, rest := splitScheme(a)
		switch network {
		case "unix":
			ln, err := listenUnix(k, rest, o.backlog)
			if err != nil {
				return fail(err)
			}
			out = append(out, ln)
		case "tcp":
			ap, err := resolveTCP(rest)
			if err != nil {
				return fail(err)
			}
			for i := range o.acceptors {
				fd, bound, err := k.ListenTCP(ap, o.backlog, o.acceptors > 1, opt)
				if err != nil {
					return fail(fmt.Errorf("reactor: listen %s: %w", a, err))
				}
				out = append(out, &listener{fd: fd, addr: net.TCPAddrFromAddrPort(bound), acceptor: i})
				// Port 0 is resolved by the first bind; the others must
				// share that port to form one SO_REUSEPORT group.
				ap = bound
			}
		default:
			return fail(fmt.Errorf("reactor: unsupported scheme in listen address %q (want tcp:// or unix://)", a))
		}
	}
	for i, l := range o.listeners {
		ln, err := inherit(k, l, opt)
		if err != nil {
			return fail(fmt.Errorf("reactor: Config.Listeners[%d]: %w", i, err))
		}
		out = append(out, ln)
	}
	return out, nil
}

// inherit takes a duplicate of l's socket.
func inherit(k kernel.Kernel, l net.Listener, opt kernel.SockOpts) (*listener, error) {
	fl, ok := l.(interface{ File() (*os.File, error) })
	if !ok {
		return nil, fmt.Errorf("%T has no socket to serve (want *net.TCPListener or *net.UnixListener)", l)
	}
	f, err := fl.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd, addr, err := k.Inherit(f, opt)
	if err != nil {
		return nil, err
	}
	return &listener{fd: fd, addr: addr}, nil
}

// ListenAddr returns a in the form Config.Listen takes: "tcp://127.0.0.1:11211",
// "tcp://[::1]:11211", "unix:///run/handoff.sock". A program that prints
// Server.Addrs for its operators prints them so, and they can be fed back.
func ListenAddr(a net.Addr) string { return a.Network() + "://" + a.String() }

// splitScheme splits "tcp://h:p" and "unix:///path"; no scheme means TCP.
func splitScheme(a string) (network, rest string) {
	if i := strings.Index(a, "://"); i >= 0 {
		return a[:i], a[i+3:]
	}
	return "tcp", a
}

// resolveTCP turns "host:port" into an address. An empty host is 0.0.0.0; a
// name is looked up once, here, and its first address is used.
func resolveTCP(hostport string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reactor: listen address %q: %w", hostport, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reactor: listen address %q: bad port", hostport)
	}
	var ip netip.Addr
	if host == "" {
		ip = netip.IPv4Unspecified()
	} else if ip, err = netip.ParseAddr(host); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("reactor: listen address %q: cannot resolve host: %v", hostport, lerr)
		}
		ip = ips[0]
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}

// listenUnix binds a unix socket at path. A stale socket file left by a
// previous run is removed first, as memcached does; any other file there is
// an error rather than something to delete.
func listenUnix(k kernel.Kernel, path string, backlog int) (*listener, error) {
	if path == "" {
		return nil, fmt.Errorf("reactor: empty unix socket path")
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("reactor: listen unix %s: file exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("reactor: listen unix %s: %w", path, err)
		}
	}
	fd, err := k.ListenUnix(path, backlog)
	if err != nil {
		return nil, fmt.Errorf("reactor: listen unix %s: %w", path, err)
	}
	return &listener{fd: fd, addr: &net.UnixAddr{Name: path, Net: "unix"}, path: path}, nil
}

// close closes the socket and removes a unix socket's file. Idempotent.
func (ln *listener) close(k kernel.Kernel) {
	if ln.fd >= 0 {
		_ = k.Close(ln.fd)
		ln.fd = -1
	}
	if ln.path != "" {
		_ = os.Remove(ln.path)
		ln.path = ""
	}
}
