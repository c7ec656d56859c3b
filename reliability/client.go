package reliability

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Client is one connection speaking memcached's text protocol: set, get,
// version and stats, each a request and its whole reply. It is for probes
// and load, not a general client: every call is bounded by Timeout.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	// Timeout bounds each call (write and whole reply); default 10 s.
	Timeout time.Duration
}

// ErrReply is wrapped by the errors of replies a call did not expect.
var ErrReply = errors.New("reliability: unexpected reply")

// Dial connects to addr: "host:port", "tcp://host:port" or "unix:///path".
func Dial(addr string, timeout time.Duration) (*Client, error) {
	network, a := SplitAddr(addr)
	c, err := net.DialTimeout(network, a, timeout)
	if err != nil {
		return nil, err
	}
	return NewClient(c), nil
}

// NewClient wraps an open connection.
func NewClient(c net.Conn) *Client {
	return &Client{conn: c, r: bufio.NewReaderSize(c, 64<<10), Timeout: 10 * time.Second}
}

// SplitAddr turns handoffd's "tcp://h:p" or "unix:///path" (or a bare
// "h:p") into a network and an address for net.Dial.
func SplitAddr(addr string) (network, a string) {
	if rest, ok := strings.CutPrefix(addr, "unix://"); ok {
		return "unix", rest
	}
	return "tcp", strings.TrimPrefix(addr, "tcp://")
}

// Conn is the underlying connection.
func (c *Client) Conn() net.Conn { return c.conn }

// Reader is the buffered reader over the connection; replies are read from
// it, so a caller reading by hand must use it too.
func (c *Client) Reader() *bufio.Reader { return c.r }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) send(req []byte) error {
	if err := c.conn.SetDeadline(time.Now().Add(c.Timeout)); err != nil {
		return err
	}
	_, err := c.conn.Write(req)
	return err
}

// Line reads one reply line without its "\r\n".
func (c *Client) Line() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	return strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"), nil
}

// Set stores value under key and expects STORED.
func (c *Client) Set(key string, value []byte) error {
	req := fmt.Appendf(nil, "set %s 0 0 %d\r\n", key, len(value))
	req = append(append(req, value...), "\r\n"...)
	if err := c.send(req); err != nil {
		return err
	}
	l, err := c.Line()
	if err != nil {
		return err
	}
	if l != "STORED" {
		return fmt.Errorf("%w to set %s: %q", ErrReply, key, l)
	}
	return nil
}

// Get returns key's value, or ok=false on a miss.
func (c *Client) Get(key string) (value []byte, ok bool, err error) {
	if err := c.send([]byte("get " + key + "\r\n")); err != nil {
		return nil, false, err
	}
	return c.readValue(key)
}

// readValue reads a get's reply: an optional VALUE block, then END.
func (c *Client) readValue(key string) ([]byte, bool, error) {
	l, err := c.Line()
	if err != nil {
		return nil, false, err
	}
	if l == "END" {
		return nil, false, nil
	}
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "VALUE" || f[1] != key {
		return nil, false, fmt.Errorf("%w to get %s: %q", ErrReply, key, l)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 {
		return nil, false, fmt.Errorf("%w to get %s: %q", ErrReply, key, l)
	}
	v := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, v); err != nil {
		return nil, false, err
	}
	if !bytes.HasSuffix(v, []byte("\r\n")) {
		return nil, false, fmt.Errorf("%w to get %s: value not followed by CRLF", ErrReply, key)
	}
	if l, err := c.Line(); err != nil || l != "END" {
		return nil, false, fmt.Errorf("%w to get %s: %q after the value (%v)", ErrReply, key, l, err)
	}
	return v[:n], true, nil
}

// Version sends version and returns the version string.
func (c *Client) Version() (string, error) {
	if err := c.send([]byte("version\r\n")); err != nil {
		return "", err
	}
	l, err := c.Line()
	if err != nil {
		return "", err
	}
	v, ok := strings.CutPrefix(l, "VERSION ")
	if !ok {
		return "", fmt.Errorf("%w to version: %q", ErrReply, l)
	}
	return v, nil
}

// Stats runs stats and returns its STAT lines as a map.
func (c *Client) Stats() (Stats, error) { return c.StatsGroup("") }

// StatsGroup runs "stats <group>" ("settings", "items", ...; "" for the
// general figures) and returns its STAT lines as a map.
func (c *Client) StatsGroup(group string) (Stats, error) {
	req := "stats\r\n"
	if group != "" {
		req = "stats " + group + "\r\n"
	}
	if err := c.send([]byte(req)); err != nil {
		return nil, err
	}
	st := Stats{}
	for {
		l, err := c.Line()
		if err != nil {
			return nil, err
		}
		if l == "END" {
			return st, nil
		}
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			return nil, fmt.Errorf("%w to stats: %q", ErrReply, l)
		}
		st[f[1]] = f[2]
	}
}

// Stats are the figures of memcached's stats command, by name.
type Stats map[string]string

// Uint returns the named figure, 0 when absent or not a number.
func (s Stats) Uint(name string) uint64 {
	v, _ := strconv.ParseUint(s[name], 10, 64)
	return v
}

// StatsOf dials addr, reads stats once and hangs up.
func StatsOf(addr string) (Stats, error) {
	c, err := Dial(addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Stats()
}
