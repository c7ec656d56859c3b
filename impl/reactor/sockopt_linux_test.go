package reactor_test

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// optTeller tells each client the options its accepted socket has, read
// with getsockopt on the server's side.
type optTeller struct{ reactor.BuiltinHandler }

func (optTeller) OnOpen(c *reactor.Conn) {
	fd := reactor.ConnFD(c)
	get := func(level, opt int) int {
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			return -1
		}
		return v
	}
	l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER)
	if err != nil {
		l = &unix.Linger{Onoff: -1}
	}
	_ = c.Write(fmt.Appendf(nil, "nodelay=%d keepalive=%d keepidle=%d linger=%d/%d rcvbuf=%d\n",
		get(unix.IPPROTO_TCP, unix.TCP_NODELAY), get(unix.SOL_SOCKET, unix.SO_KEEPALIVE),
		get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), l.Onoff, l.Linger, get(unix.SOL_SOCKET, unix.SO_RCVBUF)))
}

// TestSocketOptions: every SocketOptions field reaches the accepted
// sockets (set once on the listener, which they inherit), and the zero value
// is memcached's choice: TCP_NODELAY and SO_KEEPALIVE on, no lingering close.
func TestSocketOptions(t *testing.T) {
	defaultIdle, err := unix.GetsockoptInt(mustSocket(t), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  reactor.SocketOptions
		want string
	}{
		{"defaults", reactor.SocketOptions{}, fmt.Sprintf("nodelay=1 keepalive=1 keepidle=%d linger=0/0", defaultIdle)},
		{"nagle", reactor.SocketOptions{Nagle: true}, fmt.Sprintf("nodelay=0 keepalive=1 keepidle=%d linger=0/0", defaultIdle)},
		{"keepalive 30s", reactor.SocketOptions{KeepAlive: 30 * time.Second}, "nodelay=1 keepalive=1 keepidle=30 linger=0/0"},
		{"keepalive off", reactor.SocketOptions{KeepAlive: -1}, fmt.Sprintf("nodelay=1 keepalive=0 keepidle=%d linger=0/0", defaultIdle)},
		{"abortive close", reactor.SocketOptions{Linger: -1}, fmt.Sprintf("nodelay=1 keepalive=1 keepidle=%d linger=1/0", defaultIdle)},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := reactortest.Serve(t, reactor.Config{Workers: 1, Socket: c.opt}, optTeller{})
			if got, _ := readOpts(t, s); got != c.want {
				t.Errorf("accepted socket has %q, want %q", got, c.want)
			}
		})
	}
	t.Run("buffers", func(t *testing.T) {
		s := reactortest.Serve(t, reactor.Config{Workers: 1, Socket: reactor.SocketOptions{RecvBuffer: 96 << 10}}, optTeller{})
		_, rcvbuf := readOpts(t, s)
		rcv, err := strconv.Atoi(rcvbuf)
		if err != nil {
			t.Fatal(err)
		}
		// The kernel doubles what it is given, for its bookkeeping.
		if rcv != 2*(96<<10) {
			t.Errorf("SO_RCVBUF = %d, want %d", rcv, 2*(96<<10))
		}
	})
}

// readOpts connects and returns what optTeller said: the options, and the
// receive buffer's size apart.
func readOpts(t *testing.T, s *reactor.Server) (opts, rcvbuf string) {
	t.Helper()
	c := reactortest.DialConn(t, s.Addrs()[0])
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	opts, rcvbuf, _ = strings.Cut(strings.TrimSuffix(line, "\n"), " rcvbuf=")
	return opts, rcvbuf
}

// mustSocket returns a fresh TCP socket, for the system's defaults.
func mustSocket(t *testing.T) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
