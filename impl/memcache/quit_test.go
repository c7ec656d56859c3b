package memcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/handoffd/handoff/impl/memcache"
	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// TestQuitFlushesPendingReplies checks P9 output integrity for quit: a
// client that pipelines a multi-get whose reply is hundreds of times the
// socket buffers, then quit, and reads slowly, gets every reply byte for
// byte, then a clean EOF — memcached's quit closes only after what it
// answered is sent.
func TestQuitFlushesPendingReplies(t *testing.T) {
	const (
		buffer = 4096 // the kernel's floor, for both ends
		values = 4
		size   = 512 << 10
	)
	st, err := memcache.NewStore(memcache.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := memcache.NewProtocol(memcache.NewCache(st, memcache.Settings{}, nil))
	tail := reactortest.NewTail(64)
	cfg, err := p.Config(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 1, MaxOutput: 2 * values * size,
		Socket: reactor.SocketOptions{SendBuffer: buffer}, Trace: tail.Record})
	if err != nil {
		t.Fatal(err)
	}
	addr := reactortest.Serve(t, cfg, p).Addrs()[0]

	nc := reactortest.DialSlow(t, addr, buffer)

	var want, req bytes.Buffer
	req.WriteString("get")
	for i := range values {
		v := bytes.Repeat([]byte{byte('a' + i)}, size)
		copy(v, fmt.Sprintf("value %d of %d", i, values))
		fmt.Fprintf(nc, "set k%d 0 0 %d noreply\r\n%s\r\n", i, size, v)
		fmt.Fprintf(&req, " k%d", i)
		fmt.Fprintf(&want, "VALUE k%d 0 %d\r\n%s\r\n", i, size, v)
	}
	want.WriteString("END\r\n")
	req.WriteString("\r\nquit\r\n")
	sends := tail.Count(model.Send)
	if _, err := nc.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}

	got := make([]byte, 0, want.Len())
	buf := make([]byte, 1000)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tail.Fatalf(t, "P9: after %d of %d reply bytes: %v", len(got), want.Len(), err)
		}
	}
	if !bytes.Equal(got, want.Bytes()) {
		at := 0
		for at < len(got) && at < want.Len() && got[at] == want.Bytes()[at] {
			at++
		}
		tail.Fatalf(t, "P9: the replies before quit differ at byte %d of %d (got %d bytes)", at, want.Len(), len(got))
	}
	if k := tail.Count(model.Send) - sends; k < want.Len()/(64<<10) {
		t.Errorf("%d reply bytes went out in %d sends: the output never met a full socket, so the test tested nothing", want.Len(), k)
	}
}
