package memcache

import (
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// The connection table "stats conns" lists, as memcached lists its conns:
// each client connection by fd, with its address, the address it
// connected to, its state, and the seconds since its last command.

// connInfo is one open connection's entry.
type connInfo struct {
	fd    int
	addrs ConnAddrs
	// addr and listen are the addresses' texts, "" until stats conns
	// first asks; guarded by connTable.mu.
	addr, listen string
	// last is the unix second of the connection's last command.
	last atomic.Int64
}

// connTable holds the open connections that registered (RegisterConn);
// guarded by mu.
type connTable struct {
	mu sync.Mutex
	m  map[*connInfo]struct{}
}

// ConnAddrs is a connection's two addresses, as *reactor.Conn gives them:
// asked for from any goroutine, until the connection's Close.
type ConnAddrs interface {
	RemoteAddr() net.Addr
	LocalAddr() net.Addr
}

// RegisterConn enters the session's connection in stats conns, with its
// peer's address and the one it connected to, asked of addrs when stats
// conns first lists it: a connection no one lists costs no system call
// for them (memcached asks as late). Protocol registers every connection
// it serves; a Session that never registers is not listed. Unregistered
// by Close, which is before the connection's fd is closed: stats conns
// asks under the table's lock, so every fd it asks about is still its
// connection's.
func (s *Session) RegisterConn(addrs ConnAddrs) {
	ci := &connInfo{fd: s.fd, addrs: addrs}
	ci.last.Store(s.cache.store.now())
	t := &s.cache.conns
	t.mu.Lock()
	if t.m == nil {
		t.m = map[*connInfo]struct{}{}
	}
	t.m[ci] = struct{}{}
	t.mu.Unlock()
	s.conn = ci
	s.logConn("")
}

func (s *Session) unregisterConn() {
	if s.conn == nil {
		return
	}
	t := &s.cache.conns
	t.mu.Lock()
	delete(t.m, s.conn)
	t.mu.Unlock()
	s.conn = nil
}

// connAddrText writes an address as memcached's conn_to_str does:
// tcp:host:port (tcp6:[host]:port), or unix: and the socket's path, which a
// unix peer has none of but the socket it connected to has.
func connAddrText(a, local net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.To4() == nil && len(a.IP) == net.IPv6len {
			return "tcp6:[" + a.IP.String() + "]:" + strconv.Itoa(a.Port)
		}
		return "tcp:" + a.IP.String() + ":" + strconv.Itoa(a.Port)
	case *net.UnixAddr:
		if l, ok := local.(*net.UnixAddr); ok {
			return "unix:" + l.Name
		}
		return "unix:" + a.Name
	}
	return "<AF?>"
}

// connStats appends stats conns: by fd, each connection's addr,
// listen_addr, state (conn_parse_cmd for the one asking, conn_read for one
// awaiting its next command) and secs_since_last_cmd.
func (s *Session) connStats(out []byte) []byte {
	t := &s.cache.conns
	t.mu.Lock()
	all := make([]*connInfo, 0, len(t.m))
	for ci := range t.m {
		// Asked under the lock, which each connection's Close takes
		// before its fd is closed. Once set the texts never change, so
		// they are read below without it.
		if ci.addr == "" {
			local := ci.addrs.LocalAddr()
			ci.addr, ci.listen = connAddrText(ci.addrs.RemoteAddr(), local), connAddrText(local, local)
		}
		all = append(all, ci)
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b *connInfo) int { return a.fd - b.fd })
	now := s.cache.store.now()
	for _, ci := range all {
		state := "conn_read"
		if ci == s.conn {
			state = "conn_parse_cmd"
		}
		prefix := strconv.Itoa(ci.fd) + ":"
		out = statStr(out, prefix+"addr", ci.addr)
		out = statStr(out, prefix+"listen_addr", ci.listen)
		out = statStr(out, prefix+"state", state)
		out = statInt(out, prefix+"secs_since_last_cmd", now-ci.last.Load())
	}
	return append(out, "END\r\n"...)
}
