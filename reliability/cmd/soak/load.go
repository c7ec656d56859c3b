package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/handoffd/handoff/reliability"
)

// rejectLine is memcached's answer to a connection over -c.
const rejectLine = "ERROR Too many open connections"

// load is the traffic of a soak: mixed requests on long-lived connections,
// connection churn, and one fault at a time. Every failure it is not meant
// to provoke is counted in failures.
type load struct {
	addr string
	// keys bounds the key space, so the cache's contents plateau at -m.
	keys int

	requests, conns atomic.Int64
	// rejected counts churn connections refused at -c while a max-conn
	// burst holds every slot: expected, not a failure.
	rejected atomic.Int64
	faults   [numFaults]atomic.Int64
	failures atomic.Int64

	mu       sync.Mutex
	firstErr []string // the first few failures, guarded by mu
}

// fail counts a failure and keeps its text if it is among the first ten.
func (l *load) fail(format string, a ...any) {
	l.failures.Add(1)
	l.mu.Lock()
	if len(l.firstErr) < 10 {
		l.firstErr = append(l.firstErr, time.Now().Format("15:04:05 ")+fmt.Sprintf(format, a...))
	}
	l.mu.Unlock()
}

// mixed runs gets (70%) and sets (30%, 16 B to 16 KiB) on one connection
// until ctx is done, reconnecting after a failure.
func (l *load) mixed(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(uint64(id), 7))
	value := make([]byte, 16<<10)
	for ctx.Err() == nil {
		c, err := reliability.Dial(l.addr, 10*time.Second)
		if err != nil {
			l.fail("mixed %d: dial: %v", id, err)
			sleepCtx(ctx, time.Second)
			continue
		}
		l.conns.Add(1)
		for ctx.Err() == nil {
			key := fmt.Sprintf("soak-%d", rng.IntN(l.keys))
			if rng.IntN(10) < 3 {
				err = c.Set(key, value[:16+rng.IntN(len(value)-16)])
			} else {
				_, _, err = c.Get(key)
			}
			if err != nil {
				if ctx.Err() == nil {
					l.fail("mixed %d: %v", id, err)
				}
				break
			}
			l.requests.Add(1)
		}
		c.Close()
	}
}

// churn connects, sets and gets a key, and closes, until ctx is done.
func (l *load) churn(ctx context.Context, id int) {
	for i := 0; ctx.Err() == nil; i++ {
		c, err := reliability.Dial(l.addr, 10*time.Second)
		if err != nil {
			if ctx.Err() == nil {
				l.fail("churn %d: dial: %v", id, err)
			}
			continue
		}
		l.conns.Add(1)
		key := fmt.Sprintf("churn-%d", id)
		v := fmt.Appendf(nil, "%d", i)
		err = c.Set(key, v)
		if err == nil {
			var got []byte
			var ok bool
			got, ok, err = c.Get(key)
			if err == nil && (!ok || string(got) != string(v)) {
				err = fmt.Errorf("get %s: %q, want %q", key, got, v)
			}
		}
		c.Close()
		switch {
		case err == nil:
			l.requests.Add(2)
		case strings.Contains(err.Error(), rejectLine):
			l.rejected.Add(1)
		case ctx.Err() == nil:
			l.fail("churn %d: %v", id, err)
		}
	}
}

// The faults, run one at a time in turn.
const (
	faultBadInput = iota
	faultMaxConns
	faultIdle
	faultSlowReader
	numFaults
)

var faultNames = [numFaults]string{"bad-input", "max-conns", "idle", "slow-reader"}

// runFaults runs one fault every interval until ctx is done. maxConns and idle
// are the server's -c and idle timeout (0: none).
func (l *load) runFaults(ctx context.Context, every time.Duration, maxConns int, idle time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f := n % numFaults
		switch f {
		case faultBadInput:
			l.badInput(ctx, uint64(n))
		case faultMaxConns:
			l.maxConnsBurst(ctx, maxConns)
		case faultIdle:
			l.idleClients(ctx, idle)
		case faultSlowReader:
			l.slowReaders(ctx)
		}
		l.faults[f].Add(1)
	}
}

// badInput sends random bytes, then a half-close, from 100 connections, 16
// at a time; each must end in an EOF or a reset within 10 s.
func (l *load) badInput(ctx context.Context, seed uint64) {
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range 100 {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			junk := make([]byte, 1+rng.IntN(8<<10))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			network, a := reliability.SplitAddr(l.addr)
			c, err := net.DialTimeout(network, a, 10*time.Second)
			if err != nil {
				l.fail("bad input: dial: %v", err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			go func() {
				if _, err := c.Write(junk); err == nil {
					if cw, ok := c.(interface{ CloseWrite() error }); ok {
						_ = cw.CloseWrite()
					}
				}
			}()
			reply, err := io.ReadAll(c)
			switch {
			case err == nil, errors.Is(err, syscall.ECONNRESET):
			case strings.HasPrefix(string(reply), rejectLine):
				l.rejected.Add(1)
			default:
				l.fail("bad input: %d random bytes: %v after %d bytes of reply", len(junk), err, len(reply))
			}
		})
	}
	wg.Wait()
}

// maxConnsBurst opens connections until maxConns+20 have been tried, holds
// them half a second, and closes them; those over the limit must get
// memcached's line. None refused is a failure only if more than maxConns of
// the held ones are still open: on a loaded machine the burst can take
// longer than the idle timeout, which then closes its first connections and
// frees their slots, rightly.
func (l *load) maxConnsBurst(ctx context.Context, maxConns int) {
	var held []*reliability.Client
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	rejected := 0
	for range maxConns + 20 {
		if ctx.Err() != nil {
			return
		}
		c, err := reliability.Dial(l.addr, 10*time.Second)
		if err != nil {
			l.fail("max-conns burst: dial: %v", err)
			return
		}
		if _, err := c.Version(); err != nil {
			c.Close()
			if strings.Contains(err.Error(), rejectLine) {
				rejected++
				continue
			}
			l.fail("max-conns burst: %v", err)
			return
		}
		held = append(held, c)
	}
	if rejected == 0 {
		open := 0
		for _, c := range held {
			if _, err := c.Version(); err == nil {
				open++
			}
		}
		if open > maxConns {
			l.fail("max-conns burst: %d connections open and none rejected at -c %d", open, maxConns)
		}
	}
	sleepCtx(ctx, 500*time.Millisecond)
}

// idleClients opens 20 connections that ask once and then sit idle: with an
// idle timeout the server must close them within it plus 5 s; without one
// they are closed after 5 s.
func (l *load) idleClients(ctx context.Context, idle time.Duration) {
	var wg sync.WaitGroup
	for range 20 {
		c, err := reliability.Dial(l.addr, 10*time.Second)
		if err != nil {
			l.fail("idle: dial: %v", err)
			continue
		}
		if _, err := c.Version(); err != nil {
			c.Close()
			if !strings.Contains(err.Error(), rejectLine) {
				l.fail("idle: %v", err)
			}
			continue
		}
		wg.Go(func() {
			defer c.Close()
			if idle == 0 {
				sleepCtx(ctx, 5*time.Second)
				return
			}
			_ = c.Conn().SetReadDeadline(time.Now().Add(idle + 5*time.Second))
			if rest, err := io.ReadAll(c.Reader()); err != nil || len(rest) > 0 {
				l.fail("idle client not closed by the idle timeout %v: read %q, %v", idle, rest, err)
			}
		})
	}
	wg.Wait()
}

// slowReaders has two connections pipeline 200 gets of a 256 KiB value and
// never read, for 3 s.
func (l *load) slowReaders(ctx context.Context) {
	setup, err := reliability.Dial(l.addr, 10*time.Second)
	if err != nil {
		l.fail("slow reader: dial: %v", err)
		return
	}
	defer setup.Close()
	if err := setup.Set("soak-big", make([]byte, 256<<10)); err != nil {
		if !strings.Contains(err.Error(), rejectLine) {
			l.fail("slow reader: set: %v", err)
		}
		return
	}
	pipeline := []byte(strings.Repeat("get soak-big\r\n", 200))
	for range 2 {
		c, err := reliability.Dial(l.addr, 10*time.Second)
		if err != nil {
			l.fail("slow reader: dial: %v", err)
			continue
		}
		defer c.Close()
		_ = c.Conn().SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Conn().Write(pipeline); err != nil {
			l.fail("slow reader: write: %v", err)
		}
	}
	sleepCtx(ctx, 3*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
