package memcache

import (
	"bytes"
	"fmt"
	"strconv"
)

// The verbose log: at verbosity 2, what memcached -vv writes to stderr, line
// for line where handoff has the same events, each connection named by its
// fd. Lines are written whole, one Write each, so that the log's writer sees
// the lines of different connections interleave but never mix.

// verbose reports whether the log is on: a writer, and verbosity 2 or more
// (set by -vv at start or by the verbosity command at any time).
func (s *Session) verbose() bool {
	return s.cache.settings.Log != nil && s.cache.verbosity.Load() >= 2
}

func (s *Session) logf(format string, args ...any) {
	_, _ = s.cache.settings.Log.Write(fmt.Appendf(nil, format, args...))
}

// SetFd names the session's connection in the verbose log and, when the log
// is on, writes memcached's line for a new connection.
func (s *Session) SetFd(fd int) {
	s.fd = fd
	if s.verbose() {
		s.logf("<%d new auto-negotiating client connection\n", fd)
	}
}

// Close ends the session of a closed connection: it takes the connection
// out of stats conns and off the watchers, logs conn_close to those
// watching connevents, and writes memcached's line for the close when the
// log is on. reason is one of CloseNormal, CloseError, CloseIdle and
// CloseStopped; a normal close after a protocol error the session answered
// by closing is an error close.
func (s *Session) Close(reason string) {
	if reason == CloseNormal && s.failed {
		reason = CloseError
	}
	if s.watcher != nil {
		s.cache.watchers.remove(s.watcher)
		s.watcher = nil
	}
	if s.conn != nil {
		s.logConn(reason)
	}
	s.unregisterConn()
	if s.verbose() {
		s.logf("<%d connection closed.\n", s.fd)
	}
}

// logCommand writes a command line and, with replies, what memcached logs
// of its reply: each single-line reply (">28 STORED", or ">28 NOREPLY
// STORED" under noreply), and for a retrieval ">28 sending key K" per value
// and ">28 END". Meta replies and the values themselves are not logged, as
// memcached does not log them.
func (s *Session) logCommand(line, reply []byte, replies bool) {
	if !s.spoke {
		s.spoke = true
		s.logf("%d: Client using the ascii protocol\n", s.fd)
	}
	s.logf("<%d %s\n", s.fd, line)
	if !replies {
		return
	}
	if s.suppressed != "" {
		s.logf(">%d NOREPLY %s\n", s.fd, bytes.TrimSuffix([]byte(s.suppressed), []byte("\r\n")))
		return
	}
	cmd, _, _ := bytes.Cut(line, []byte(" "))
	switch string(cmd) {
	case "mg", "ms", "md", "ma", "mn", "me":
		return // a meta command
	}
	for len(reply) > 0 {
		end := bytes.Index(reply, []byte("\r\n"))
		if end < 0 {
			return
		}
		l := reply[:end]
		reply = reply[end+2:]
		if f := bytes.Fields(l); len(f) >= 4 && string(f[0]) == "VALUE" {
			s.logf(">%d sending key %s\n", s.fd, f[1])
			if n, err := strconv.Atoi(string(f[3])); err == nil && n+2 <= len(reply) {
				reply = reply[n+2:]
			}
			continue
		}
		if string(l) == "STAT" || bytes.HasPrefix(l, []byte("STAT ")) {
			continue // stats lines go unlogged, as memcached's do
		}
		s.logf(">%d %s\n", s.fd, l)
	}
}

// logBinHeader writes what memcached -vv logs of a binary request's header:
// its 24 bytes, four to a line, and before the first, the protocol chosen.
func (s *Session) logBinHeader(r *binReq) {
	if !s.spoke {
		s.spoke = true
		s.logf("%d: Client using the binary protocol\n", s.fd)
	}
	s.logf("%s", hexLines(fmt.Appendf(nil, "<%d Read binary protocol data:", s.fd), fmt.Sprintf("<%d   ", s.fd), r.header))
}

// logBinResponse writes what memcached -vv logs of a binary response's
// header.
func (s *Session) logBinResponse(h []byte) {
	s.logf("%s", hexLines(fmt.Appendf(nil, ">%d Writing bin response:", s.fd), fmt.Sprintf(">%d  ", s.fd), h))
}

// hexLines appends b to title as memcached dumps a header: a line per four
// bytes, each line starting with lead, each byte " 0x%02x".
func hexLines(title []byte, lead string, b []byte) []byte {
	for i, c := range b {
		if i%4 == 0 {
			title = append(title, '\n')
			title = append(title, lead...)
		}
		title = fmt.Appendf(title, " 0x%02x", c)
	}
	return append(title, '\n')
}
