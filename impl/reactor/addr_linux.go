package reactor

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// peerAddr is a connection's remote address, parsed once at accept and
// formatted only when RemoteAddr asks.
type peerAddr struct {
	ap   netip.AddrPort // TCP peers
	zone uint32         // IPv6 scope id, 0 if none
	path string         // unix peers; "" when unnamed, "@name" when abstract
}

func (p peerAddr) String() string {
	if !p.ap.IsValid() {
		return p.path
	}
	if p.zone != 0 {
		if ifi, err := net.InterfaceByIndex(int(p.zone)); err == nil {
			return netip.AddrPortFrom(p.ap.Addr().WithZone(ifi.Name), p.ap.Port()).String()
		}
	}
	return p.ap.String()
}

// accept4 is accept4(2) into a caller-owned buffer. x/sys's Accept4 also
// calls getsockopt(SO_PROTOCOL) for every AF_INET peer, to tell L2TP
// sockets apart: a syscall per connection that a TCP server does not need.
func accept4(fd int, rsa *unix.RawSockaddrAny) (int, peerAddr, error) {
	l := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&l)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, peerAddr{}, e
	}
	return int(r), parsePeer(rsa, l), nil
}

// parsePeer decodes the address accept4 wrote; l is its length.
func parsePeer(rsa *unix.RawSockaddrAny, l uint32) peerAddr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return peerAddr{ap: netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), networkPort(&sa.Port))}
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return peerAddr{ap: netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), networkPort(&sa.Port)), zone: sa.Scope_id}
	case unix.AF_UNIX:
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := int(l) - int(unsafe.Offsetof(sa.Path))
		if n <= 0 {
			return peerAddr{}
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
		return peerAddr{path: string(b)}
	}
	return peerAddr{}
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

// formatSockaddr renders an address as "127.0.0.1:80", "[::1]:80" or a unix
// path ("" for an unnamed unix peer).
func formatSockaddr(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				ip = ip.WithZone(ifi.Name)
			}
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port)).String()
	case *unix.SockaddrUnix:
		return sa.Name
	}
	return ""
}
