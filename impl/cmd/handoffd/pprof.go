package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// servePprof serves Go's profiles on addr, at the paths net/http/pprof
// uses, until the returned stop is called, so that `go tool pprof
// http://ADDR/debug/pprof/profile` profiles handoffd under load as the
// benchmarks were profiled. addr must be a loopback address: the profiles
// show the process's memory and code to whoever can reach them.
//
// It speaks just enough HTTP/1.0 for that (one GET per connection), not
// net/http: net/http would double handoffd's binary and add 3 MiB to its
// resident memory whether or not the flag is given.
func servePprof(addr string) (bound string, stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("--pprof %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("--pprof %q: loopback addresses only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--pprof: %w", err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // stop closed the listener
			}
			// One profile at a time: a CPU profile cannot run twice.
			servePprofConn(c, done)
		}
	})
	return ln.Addr().String(), func() { close(done); _ = ln.Close(); wg.Wait() }, nil
}

// pprofMaxSeconds bounds a CPU profile's length.
const pprofMaxSeconds = 600

// servePprofConn answers one request: /debug/pprof/profile?seconds=N for
// a CPU profile, /debug/pprof/NAME?debug=N for any runtime/pprof profile
// (heap, allocs, goroutine, block, mutex, threadcreate), /debug/pprof/ for
// their list. done, closed by stop, ends a CPU profile early.
func servePprofConn(c net.Conn, done <-chan struct{}) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(c, 4096).ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "GET" {
		fmt.Fprint(c, "HTTP/1.0 405 Method Not Allowed\r\n\r\n")
		return
	}
	u, err := url.Parse(f[1])
	if err != nil || !strings.HasPrefix(u.Path, "/debug/pprof/") {
		fmt.Fprint(c, "HTTP/1.0 404 Not Found\r\n\r\n")
		return
	}
	name := strings.TrimPrefix(u.Path, "/debug/pprof/")
	q := u.Query()
	switch {
	case name == "":
		fmt.Fprint(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nprofile?seconds=N\n")
		for _, p := range pprof.Profiles() {
			fmt.Fprintf(c, "%s (%d)\n", p.Name(), p.Count())
		}
	case name == "profile":
		secs, err := strconv.Atoi(q.Get("seconds"))
		if err != nil || secs < 1 {
			secs = 30
		}
		secs = min(secs, pprofMaxSeconds)
		_ = c.SetDeadline(time.Now().Add(time.Duration(secs)*time.Second + 10*time.Second))
		fmt.Fprint(c, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
		if err := pprof.StartCPUProfile(c); err != nil {
			fmt.Fprintf(c, "%v\n", err) // another profile is running
			return
		}
		// A stop ends the profile early: shutdown does not wait for it.
		t := time.NewTimer(time.Duration(secs) * time.Second)
		select {
		case <-t.C:
		case <-done:
			t.Stop()
		}
		pprof.StopCPUProfile()
	default:
		p := pprof.Lookup(name)
		if p == nil {
			fmt.Fprint(c, "HTTP/1.0 404 Not Found\r\n\r\nno such profile\n")
			return
		}
		debug, _ := strconv.Atoi(q.Get("debug"))
		ctype := "application/octet-stream"
		if debug > 0 {
			ctype = "text/plain; charset=utf-8"
		}
		fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: %s\r\n\r\n", ctype)
		_ = p.WriteTo(c, debug)
	}
}
