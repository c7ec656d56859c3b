package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func (*epoll) ListenTCP(ap netip.AddrPort, backlog int, reusePort bool, opt SockOpts) (int, netip.AddrPort, error) {
	sa, err := sockaddr(ap)
	if err != nil {
		return -1, netip.AddrPort{}, err
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, os.NewSyscallError("socket", err)
	}
	fail := func(err error) (int, netip.AddrPort, error) {
		_ = unix.Close(fd)
		return -1, netip.AddrPort{}, err
	}
	// SO_REUSEADDR: a restarted server binds while its old connections sit
	// in TIME_WAIT.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail(os.NewSyscallError("setsockopt SO_REUSEADDR", err))
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail(os.NewSyscallError("setsockopt SO_REUSEPORT", err))
		}
	}
	if err := setTCPOpts(fd, opt); err != nil {
		return fail(err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail(os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail(os.NewSyscallError("listen", err))
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail(os.NewSyscallError("getsockname", err))
	}
	return fd, addrPort(bound), nil
}

// setTCPOpts sets opt on a TCP socket. Set on a listener, every option here
// is inherited by the sockets accept4 returns, so it costs nothing per
// connection.
func setTCPOpts(fd int, opt SockOpts) error {
	set := func(level, name, v int, what string) error {
		if err := unix.SetsockoptInt(fd, level, name, v); err != nil {
			return os.NewSyscallError("setsockopt "+what, err)
		}
		return nil
	}
	nodelay := 1
	if opt.Nagle {
		nodelay = 0
	}
	if err := set(unix.IPPROTO_TCP, unix.TCP_NODELAY, nodelay, "TCP_NODELAY"); err != nil {
		return err
	}
	keep := 1
	if opt.KeepAlive < 0 {
		keep = 0
	}
	if err := set(unix.SOL_SOCKET, unix.SO_KEEPALIVE, keep, "SO_KEEPALIVE"); err != nil {
		return err
	}
	if opt.KeepAlive > 0 {
		// Whole seconds, at least one: the kernel's unit.
		secs := max(int(opt.KeepAlive.Seconds()), 1)
		if err := set(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs, "TCP_KEEPIDLE"); err != nil {
			return err
		}
		if err := set(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs, "TCP_KEEPINTVL"); err != nil {
			return err
		}
	}
	if opt.Abort {
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
			return os.NewSyscallError("setsockopt SO_LINGER", err)
		}
	}
	if opt.RecvBuffer > 0 {
		if err := set(unix.SOL_SOCKET, unix.SO_RCVBUF, opt.RecvBuffer, "SO_RCVBUF"); err != nil {
			return err
		}
	}
	if opt.SendBuffer > 0 {
		if err := set(unix.SOL_SOCKET, unix.SO_SNDBUF, opt.SendBuffer, "SO_SNDBUF"); err != nil {
			return err
		}
	}
	return nil
}

func (*epoll) ListenUnix(path string, backlog int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		_ = unix.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		_ = unix.Close(fd)
		_ = os.Remove(path)
		return -1, os.NewSyscallError("listen", err)
	}
	return fd, nil
}

func (*epoll) Inherit(f *os.File, opt SockOpts) (int, net.Addr, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, nil, fmt.Errorf("inherit %s: %w", f.Name(), err)
	}
	// A duplicate, taken inside Control: f.Fd() would put the socket, which
	// the duplicate shares with f, into blocking mode.
	fd := -1
	if cerr := rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil {
		return -1, nil, fmt.Errorf("inherit %s: %w", f.Name(), cerr)
	}
	if err != nil {
		return -1, nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	fail := func(err error) (int, net.Addr, error) {
		_ = unix.Close(fd)
		return -1, nil, fmt.Errorf("inherit %s: %w", f.Name(), err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil {
		return fail(os.NewSyscallError("getsockopt SO_ACCEPTCONN", err))
	} else if v == 0 {
		return fail(fmt.Errorf("not a listening socket"))
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		return fail(os.NewSyscallError("getsockopt SO_TYPE", err))
	} else if v != unix.SOCK_STREAM {
		return fail(fmt.Errorf("not a stream socket"))
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail(os.NewSyscallError("fcntl O_NONBLOCK", err))
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail(os.NewSyscallError("getsockname", err))
	}
	if _, ok := bound.(*unix.SockaddrUnix); !ok {
		if err := setTCPOpts(fd, opt); err != nil {
			return fail(err)
		}
	}
	return fd, netAddr(bound), nil
}

// LocalAddr asks getsockname itself: x/sys's Getsockname follows an
// IPv4 or IPv6 answer with a getsockopt (SO_PROTOCOL, for L2TP), a second
// system call for every connection whose address is asked for.
func (*epoll) LocalAddr(fd int) (net.Addr, error) {
	p, e := sockName(unix.SYS_GETSOCKNAME, fd)
	if e != 0 {
		// EBADF, ENOTSOCK: a bug (the fd is the caller's and open).
		return nil, os.NewSyscallError("getsockname", e)
	}
	return p.Addr(), nil
}

func (*epoll) PeerAddr(fd int) (net.Addr, error) {
	p, err := PeerOf(fd)
	if err != nil {
		return nil, err
	}
	return p.Addr(), nil
}

// sockaddr turns ap into a bindable address; an IPv6 zone names an
// interface.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if z := ip.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, fmt.Errorf("zone %q: %w", z, err)
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, nil
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(withZone(netip.AddrFrom16(sa.Addr), sa.ZoneId), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

func netAddr(sa unix.Sockaddr) net.Addr {
	if u, ok := sa.(*unix.SockaddrUnix); ok {
		return &net.UnixAddr{Name: u.Name, Net: "unix"}
	}
	return net.TCPAddrFromAddrPort(addrPort(sa))
}

// withZone names the interface of an IPv6 scope id, as Go's net does.
func withZone(ip netip.Addr, zone uint32) netip.Addr {
	if zone == 0 {
		return ip
	}
	if ifi, err := net.InterfaceByIndex(int(zone)); err == nil {
		return ip.WithZone(ifi.Name)
	}
	return ip
}

// parsePeer decodes the address accept4 wrote; l is its length.
func parsePeer(rsa *unix.RawSockaddrAny, l uint32) Peer {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return Peer{AP: netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), networkPort(&sa.Port))}
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return Peer{AP: netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), networkPort(&sa.Port)), Zone: sa.Scope_id}
	case unix.AF_UNIX:
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := int(l) - int(unsafe.Offsetof(sa.Path))
		if n <= 0 {
			return Peer{}
		}
		b := make([]byte, 0, n)
		for _, c := range sa.Path[:min(n, len(sa.Path))] {
			b = append(b, byte(c))
		}
		if b[0] == 0 {
			b[0] = '@'
		} else if i := indexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return Peer{Path: string(b)}
	}
	return Peer{}
}

// networkPort reads a port stored in network byte order.
func networkPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// PeerOf is the connected socket fd's peer (getpeername), for a
// connection accepted without its address (io_uring's multishot accept).
func PeerOf(fd int) (Peer, error) {
	p, e := sockName(unix.SYS_GETPEERNAME, fd)
	if e != 0 {
		// ENOTCONN: the peer reset before we asked; EBADF: a bug.
		return Peer{}, os.NewSyscallError("getpeername", e)
	}
	return p, nil
}

// sockName asks getsockname or getpeername (trap) for fd's address, in a
// raw system call: neither blocks.
func sockName(trap uintptr, fd int) (Peer, unix.Errno) {
	var rsa unix.RawSockaddrAny
	l := uint32(unsafe.Sizeof(rsa))
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return Peer{}, e
	}
	return parsePeer(&rsa, l), 0
}
