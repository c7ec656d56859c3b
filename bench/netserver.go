package main

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/handoffd/handoff/bench/answer"
)

// serveNet is the idiomatic Go server: net.Listen, a goroutine per
// connection blocked in Read on its own 4 KiB buffer, the runtime's netpoller
// underneath. It listens on 127.0.0.1:port and serves until ctx is done.
func serveNet(ctx context.Context, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	store := answer.NewStore()
	var mu sync.Mutex
	open := make(map[net.Conn]struct{})
	var wg sync.WaitGroup
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			continue
		}
		mu.Lock()
		open[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			serveNetConn(c, store)
			mu.Lock()
			delete(open, c)
			mu.Unlock()
		})
	}
	mu.Lock()
	for c := range open {
		_ = c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return nil
}

func serveNetConn(c net.Conn, store *answer.Store) {
	defer c.Close()
	buf := make([]byte, 4096)
	var out []byte
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		used, o, closeNow := store.Answer(buf[:have], out[:0])
		out = o
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		if closeNow {
			return
		}
		have = copy(buf, buf[used:have])
		if have == len(buf) {
			if len(buf) > answer.MaxLine+answer.MaxValue+2 {
				return
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}
