package main

import (
	"context"
	"math"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// Each peer answers the bench's whole load: every mode runs against it with
// no error, and the server-side figures come out positive.
func TestPeersServeLoad(t *testing.T) {
	for _, peer := range []struct {
		name  string
		serve func(context.Context, int) error
	}{
		{"floor", serveFloor},
		{"handoff-floor", func(ctx context.Context, port int) error { return serveHandoffFloor(ctx, port, 2) }},
		{"netserver", serveNet},
	} {
		t.Run(peer.name, func(t *testing.T) {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- peer.serve(ctx, port) }()
			defer func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			waitListening(t, addr)
			pid := os.Getpid()
			base := load{Addr: addr, PID: pid, Duration: 10 * time.Second, Keys: 50, ValueSize: 100, GetRatio: 0.9}
			conn := base
			conn.Conns, conn.Total = 4, 200
			req := base
			req.Conns, req.Total, req.Pipeline = 8, 4000, 4
			idle := base
			idle.Conns = 100
			for _, run := range []struct {
				f func(load) (result, error)
				l load
			}{{runConn, conn}, {runReq, req}, {runIdle, idle}} {
				r, err := run.f(run.l)
				if err != nil || r.Errors != 0 || r.Ops == 0 {
					t.Fatalf("%s: %v (%v)", r.Mode, r, err)
				}
				if r.Mode != "idle" && (r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50) {
					t.Errorf("%s: latency %+v", r.Mode, r.Latency)
				}
				if r.Mode == "req" && r.Ops != req.Total {
					t.Errorf("req: %d ops, want exactly -n %d", r.Ops, req.Total)
				}
				if r.Mode == "idle" && (r.Ops != 100 || math.IsNaN(r.RSSPerConn)) {
					t.Errorf("idle: %v", r)
				}
			}
		})
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
