package reactor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listener is one bound, listening, non-blocking socket.
type listener struct {
	// fd is the listening socket. Immutable until close.
	fd int
	// addr is the bound address in Addrs' form, port 0 resolved.
	addr string
	// path is the unix socket's path, removed on close; "" for TCP.
	path string
	// acceptor is the index of the Acceptor whose epoll set holds fd.
	acceptor int
}

// bindAll binds every address of listen. With acceptors > 1 every TCP address
// is bound once per Acceptor with SO_REUSEPORT, so the kernel spreads
// connections over K accept queues; a unix socket cannot be shared that way
// and belongs to Acceptor 0.
func bindAll(listen []string, acceptors, backlog int) ([]*listener, error) {
	var out []*listener
	fail := func(err error) ([]*listener, error) {
		for _, ln := range out {
			ln.close()
		}
		return nil, err
	}
	for _, a := range listen {
		network, rest := splitScheme(a)
		switch network {
		case "unix":
			ln, err := listenUnix(rest, backlog)
			if err != nil {
				return fail(err)
			}
			out = append(out, ln)
		case "tcp":
			sa, err := resolveTCP(rest)
			if err != nil {
				return fail(err)
			}
			for i := 0; i < acceptors; i++ {
				ln, err := listenTCP(sa, backlog, acceptors > 1)
				if err != nil {
					return fail(fmt.Errorf("reactor: listen %s: %w", a, err))
				}
				ln.acceptor = i
				out = append(out, ln)
				// Port 0 is resolved by the first bind; the others must
				// share that port to form one SO_REUSEPORT group.
				sa, err = unix.Getsockname(ln.fd)
				if err != nil {
					return fail(os.NewSyscallError("getsockname", err))
				}
			}
		default:
			return fail(fmt.Errorf("reactor: unsupported scheme in listen address %q (want tcp:// or unix://)", a))
		}
	}
	return out, nil
}

// splitScheme splits "tcp://h:p" and "unix:///path"; no scheme means TCP.
func splitScheme(a string) (network, rest string) {
	if i := strings.Index(a, "://"); i >= 0 {
		return a[:i], a[i+3:]
	}
	return "tcp", a
}

// resolveTCP turns "host:port" into a sockaddr. An empty host is 0.0.0.0; a
// name is looked up once, here, and its first address is used.
func resolveTCP(hostport string) (unix.Sockaddr, error) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("reactor: listen address %q: %w", hostport, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("reactor: listen address %q: bad port", hostport)
	}
	var ip netip.Addr
	if host == "" {
		ip = netip.IPv4Unspecified()
	} else if ip, err = netip.ParseAddr(host); err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
		if lerr != nil || len(ips) == 0 {
			return nil, fmt.Errorf("reactor: listen address %q: cannot resolve host: %v", hostport, lerr)
		}
		ip = ips[0]
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
	if z := ip.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, fmt.Errorf("reactor: listen address %q: zone: %w", hostport, err)
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

func listenTCP(sa unix.Sockaddr, backlog int, reusePort bool) (*listener, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	ln := &listener{fd: fd}
	// SO_REUSEADDR: a restarted server binds while old connections sit in
	// TIME_WAIT. TCP_NODELAY is inherited by accepted sockets, saving a
	// setsockopt per connection: a reactor writes whole replies, so Nagle
	// only adds latency.
	opts := []struct {
		level, opt int
		name       string
	}{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, "setsockopt SO_REUSEADDR"},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, "setsockopt TCP_NODELAY"},
	}
	if reusePort {
		opts = append(opts, struct {
			level, opt int
			name       string
		}{unix.SOL_SOCKET, unix.SO_REUSEPORT, "setsockopt SO_REUSEPORT"})
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, 1); err != nil {
			ln.close()
			return nil, os.NewSyscallError(o.name, err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		ln.close()
		return nil, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		ln.close()
		return nil, os.NewSyscallError("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		ln.close()
		return nil, os.NewSyscallError("getsockname", err)
	}
	ln.addr = "tcp://" + formatSockaddr(bound)
	return ln, nil
}

// listenUnix binds a unix socket at path. A stale socket file left by a
// previous run is removed first, as memcached does; any other file there is
// an error rather than something to delete.
func listenUnix(path string, backlog int) (*listener, error) {
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
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	ln := &listener{fd: fd, addr: "unix://" + path}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		ln.close()
		return nil, fmt.Errorf("reactor: listen unix %s: %w", path, os.NewSyscallError("bind", err))
	}
	ln.path = path
	if err := unix.Listen(fd, backlog); err != nil {
		ln.close()
		return nil, os.NewSyscallError("listen", err)
	}
	return ln, nil
}

// close closes the socket and removes a unix socket's file. Idempotent.
func (ln *listener) close() {
	if ln.fd >= 0 {
		// close(2) is not retried on EINTR: the fd is gone either way.
		_ = unix.Close(ln.fd)
		ln.fd = -1
	}
	if ln.path != "" {
		_ = os.Remove(ln.path)
		ln.path = ""
	}
}
