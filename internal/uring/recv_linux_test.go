package uring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loopbackPair returns an accepted TCP socket on 127.0.0.1, non-blocking,
// and the client connected to it.
func loopbackPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.(*net.TCPConn).File()
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, c
}

func submit(t *testing.T, r *Ring, fill func(e *SQE)) {
	t.Helper()
	e, err := r.SQE()
	if err != nil {
		t.Fatal(err)
	}
	fill(e)
	if _, err := r.Submit(0); err != nil {
		t.Fatal(err)
	}
}

// readFull reads len(want) bytes from c within 10 s and compares them.
func readFull(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %q back: %v (got %q)", want, err, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %q, want %q", got, want)
	}
}

const (
	tagRecv  = 1
	tagSend  = 2 << 16 // | buffer id
	tagClose = 3
)

// A multishot receive into provided buffers, and sends from them, echo
// every request on a real loopback socket from one receive submission: each
// completion names the buffer it filled, the bytes are the peer's, and a
// buffer handed back after its send is used again (four buffers, ten
// requests). The peer's EOF ends the request (Res 0, no CQEFMore), and a
// close through the ring releases the socket.
func TestRecvMultishotEchoes(t *testing.T) {
	r := newRing(t, 16)
	br, err := r.RegisterBufRing(7, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, c := loopbackPair(t)
	submit(t, r, func(e *SQE) { e.RecvMultishot(fd, 7, tagRecv) })
	used := map[uint16]bool{}
	for i := range 10 {
		req := []byte(fmt.Sprintf("request %d", i))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		got := reap(t, r, 1)[0]
		id, ok := BufferID(got)
		if got.UserData != tagRecv || got.Res != int32(len(req)) || !ok || got.Flags&CQEFMore == 0 {
			t.Fatalf("request %d: receive completion %+v (buffer %d, %v)", i, got, id, ok)
		}
		used[id] = true
		p := br.Buf(id, int(got.Res))
		if !bytes.Equal(p, req) {
			t.Fatalf("request %d: buffer %d holds %q", i, id, p)
		}
		submit(t, r, func(e *SQE) { e.Send(fd, p, tagSend|uint64(id)) })
		sent := reap(t, r, 1)[0]
		if sent.UserData != tagSend|uint64(id) || sent.Res != int32(len(req)) {
			t.Fatalf("request %d: send completion %+v", i, sent)
		}
		br.Provide(id)
		br.Publish()
		readFull(t, c, req)
	}
	if len(used) != 4 {
		t.Errorf("ten requests used buffers %v, want all four in turn", used)
	}
	c.(*net.TCPConn).CloseWrite()
	eof := reap(t, r, 1)[0]
	if eof.UserData != tagRecv || eof.Res != 0 || eof.Flags&CQEFMore != 0 {
		t.Fatalf("after the peer's EOF: %+v, want Res 0 and the request ended", eof)
	}
	dup, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	submit(t, r, func(e *SQE) { e.Close(dup, tagClose) })
	if cl := reap(t, r, 1)[0]; cl.UserData != tagClose || cl.Res != 0 {
		t.Fatalf("close completion %+v", cl)
	}
	if _, err := unix.FcntlInt(uintptr(dup), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("fd %d after the ring's close: %v, want EBADF", dup, err)
	}
}

// A multishot receive that finds no buffer ends (-ENOBUFS, no CQEFMore)
// and consumes nothing: submitted again once the buffer is back, it
// receives what waited, so no byte is lost or reordered. The reactor must
// re-arm it; one that does not strands the connection (model/'s
// bug-multishot-not-rearmed, for the receive).
func TestRecvMultishotEndsWithoutBuffersAndLosesNothing(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.RegisterBufRing(3, 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, c := loopbackPair(t)
	submit(t, r, func(e *SQE) { e.RecvMultishot(fd, 3, tagRecv) })
	c.Write([]byte("aaaaaaaa"))
	first := reap(t, r, 1)[0]
	id, _ := BufferID(first)
	if first.Res != 8 || first.Flags&CQEFMore == 0 || string(br.Buf(id, 8)) != "aaaaaaaa" {
		t.Fatalf("first receive %+v %q", first, br.Buf(id, int(max(first.Res, 0))))
	}
	c.Write([]byte("bbbbbbbb"))
	ended := reap(t, r, 1)[0]
	if ended.Res != -int32(unix.ENOBUFS) || ended.Flags&CQEFMore != 0 {
		t.Fatalf("receive with the only buffer held: %+v, want -ENOBUFS and the request ended", ended)
	}
	br.Provide(id)
	br.Publish()
	submit(t, r, func(e *SQE) { e.RecvMultishot(fd, 3, tagRecv) })
	again := reap(t, r, 1)[0]
	id, _ = BufferID(again)
	if again.Res != 8 || string(br.Buf(id, 8)) != "bbbbbbbb" {
		t.Fatalf("re-armed receive %+v %q, want the 8 bytes that waited", again, br.Buf(id, int(max(again.Res, 0))))
	}
}

// Cancelling the requests on an fd ends its multishot receive
// (-ECANCELED, no CQEFMore), which otherwise holds the socket open past a
// close: the order a connection's close must take on a ring.
func TestCancelFdEndsReceive(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.RegisterBufRing(1, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, _ := loopbackPair(t)
	submit(t, r, func(e *SQE) { e.RecvMultishot(fd, 1, tagRecv) })
	submit(t, r, func(e *SQE) { e.CancelFd(fd, 9) })
	got := map[uint64]CQE{}
	for _, c := range reap(t, r, 2) {
		got[c.UserData] = c
	}
	if c := got[tagRecv]; c.Res != -int32(unix.ECANCELED) || c.Flags&CQEFMore != 0 {
		t.Errorf("cancelled receive: %+v, want -ECANCELED and the request ended", c)
	}
	if c := got[9]; c.Res != 1 {
		t.Errorf("cancel: %+v, want one request cancelled", c)
	}
}

// A buffer ring's size must be a power of two the kernel takes.
func TestRegisterBufRingRefusesBadSizes(t *testing.T) {
	r := newRing(t, 4)
	for _, n := range []int{0, 3, 1 << 16} {
		if b, err := r.RegisterBufRing(1, n, 16); err == nil {
			b.Close()
			t.Errorf("RegisterBufRing(%d buffers) succeeded", n)
		}
	}
}
