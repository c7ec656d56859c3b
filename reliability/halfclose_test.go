package reliability

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestHalfClose: a client that shuts down its write side right after its
// requests still receives every reply in full, then an EOF. One get of a
// 1 MiB value, then eight pipelined ones: 8 MiB of replies, twice the
// reactor's MaxOutput, so the server holds requests back until its output
// drains, and must still answer them after it has read the half-close. The
// last round reads only after a pause: the server then sees the half-close
// while it still holds requests back, whatever the scheduling.
func TestHalfClose(t *testing.T) {
	const size = 1 << 20
	d := startDaemon(t, Options{Args: []string{"-t", "2", "-I", "2m"}})
	value := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	setup := dialClient(t, d)
	if err := setup.Set("big", value); err != nil {
		t.Fatal(err)
	}
	reply := append(fmt.Appendf(nil, "VALUE big 0 %d\r\n", size), value...)
	reply = append(reply, "\r\nEND\r\n"...)
	for _, round := range []struct {
		gets  int
		pause time.Duration
	}{{1, 0}, {8, 0}, {8, 200 * time.Millisecond}} {
		gets := round.gets
		c := dialClient(t, d)
		_ = c.Conn().SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Conn().Write([]byte(strings.Repeat("get big\r\n", gets))); err != nil {
			t.Fatal(err)
		}
		if err := c.Conn().(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(round.pause)
		start := time.Now()
		got, err := io.ReadAll(c.Reader())
		if err != nil {
			t.Fatalf("%d gets, then shutdown(SHUT_WR): %v after %d bytes", gets, err, len(got))
		}
		want := bytes.Repeat(reply, gets)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d gets, then shutdown(SHUT_WR): got %d bytes, want %d (the whole reply, then EOF)", gets, len(got), len(want))
		}
		t.Logf("%d gets of 1 MiB after a half-close, read after %v: %d bytes, then EOF, in %v", gets, round.pause, len(got), time.Since(start).Round(time.Millisecond))
	}
}
