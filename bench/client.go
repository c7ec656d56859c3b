package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// ioTimeout bounds every client read and write: a server that stops
// answering fails the run instead of hanging it.
const ioTimeout = 10 * time.Second

// mcConn is one persistent client connection speaking the memcached text
// protocol: requests are built into wbuf, written at once (a pipeline), and
// their replies read back in order.
type mcConn struct {
	c    net.Conn
	r    *bufio.Reader
	wbuf []byte
	// kinds holds, per request of the pipeline in wbuf, whether it is a get.
	kinds []bool
}

// dialMC connects a client whose reader buffers rbuf bytes (bufio's
// minimum is 16): idle clients use a small one, so that holding thousands
// of them costs the bench little.
func dialMC(addr string, rbuf int) (*mcConn, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &mcConn{c: c, r: bufio.NewReaderSize(c, rbuf)}, nil
}

func (m *mcConn) get(key []byte) {
	m.wbuf = append(append(append(m.wbuf, "get "...), key...), "\r\n"...)
	m.kinds = append(m.kinds, true)
}

func (m *mcConn) set(key, value []byte) {
	m.wbuf = append(append(m.wbuf, "set "...), key...)
	m.wbuf = append(m.wbuf, " 0 0 "...)
	m.wbuf = strconv.AppendInt(m.wbuf, int64(len(value)), 10)
	m.wbuf = append(append(append(m.wbuf, "\r\n"...), value...), "\r\n"...)
	m.kinds = append(m.kinds, false)
}

// roundTrip writes the queued requests and reads one reply for each; it
// returns the number of get hits.
func (m *mcConn) roundTrip() (hits int, err error) {
	deadline := time.Now().Add(ioTimeout)
	_ = m.c.SetDeadline(deadline)
	if _, err := m.c.Write(m.wbuf); err != nil {
		return 0, err
	}
	for _, isGet := range m.kinds {
		h, err := m.readReply(isGet)
		if err != nil {
			return hits, err
		}
		hits += h
	}
	m.wbuf, m.kinds = m.wbuf[:0], m.kinds[:0]
	return hits, nil
}

var errReply = errors.New("unexpected reply")

// readReply reads a get's VALUE blocks up to END, or a set's STORED.
func (m *mcConn) readReply(isGet bool) (hits int, err error) {
	for {
		line, err := m.r.ReadSlice('\n')
		if err != nil {
			return hits, err
		}
		switch {
		case !isGet && bytes.Equal(line, []byte("STORED\r\n")):
			return 0, nil
		case isGet && bytes.Equal(line, []byte("END\r\n")):
			return hits, nil
		case isGet && bytes.HasPrefix(line, []byte("VALUE ")):
			f := bytes.Fields(line)
			if len(f) < 4 {
				return hits, fmt.Errorf("%w: %q", errReply, line)
			}
			n, err := strconv.Atoi(string(f[3]))
			if err != nil || n < 0 {
				return hits, fmt.Errorf("%w: %q", errReply, line)
			}
			if _, err := m.r.Discard(n + 2); err != nil {
				return hits, err
			}
			hits++
		default:
			return hits, fmt.Errorf("%w: %q", errReply, line)
		}
	}
}

func (m *mcConn) close() { _ = m.c.Close() }

// shortRequest dials addr, sends one get, waits for a reply line and closes:
// one short connection. It accepts any reply that ends a line, so an echo
// server can stand in for a memcached.
func shortRequest(addr string, buf []byte) error {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	return oneLine(c, []byte("get bench:short\r\n"), buf)
}

// oneLine writes req and reads until the reply ends a line.
func oneLine(c net.Conn, req, buf []byte) error {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(req); err != nil {
		return err
	}
	got := 0
	for {
		n, err := c.Read(buf[got:])
		got += n
		if got > 0 && buf[got-1] == '\n' {
			return nil
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if got == len(buf) {
			return fmt.Errorf("%w: longer than %d bytes", errReply, len(buf))
		}
	}
}
