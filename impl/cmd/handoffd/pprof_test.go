package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPprofOnLoopbackOnly: --pprof serves Go's profiler on a loopback
// address, stops when asked, and refuses any other address without binding
// it.
func TestPprofOnLoopbackOnly(t *testing.T) {
	bound, stop, err := servePprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + bound + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile:") {
		t.Fatalf("GET goroutine profile: %d, %v, %.80q", resp.StatusCode, err, body)
	}
	// A CPU profile is cut short by stop: shutdown does not wait for it.
	got := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + bound + "/debug/pprof/profile?seconds=60")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		got <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the profile start; stop is tested either way
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop waited for a 60 s CPU profile")
	}
	if err := <-got; err != nil {
		t.Fatalf("the CPU profile cut short: %v", err)
	}
	if _, err := client.Get("http://" + bound + "/debug/pprof/"); err == nil {
		t.Fatal("the profiler still answers after stop")
	}
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:6060", "nohost"} {
		if _, _, err := servePprof(addr); err == nil {
			t.Errorf("--pprof %s accepted", addr)
		}
	}
	if o, _ := parseFlags([]string{"--pprof", "127.0.0.1:6060"}, io.Discard, io.Discard); o == nil || o.pprof != "127.0.0.1:6060" {
		t.Errorf("--pprof not parsed: %+v", o)
	}
}
