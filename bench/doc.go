// Command handoff-bench measures servers that speak memcached's text protocol
// on loopback, and is three of the peers they are measured against. It is
// Linux only: its floors are built on epoll and its server figures read
// /proc. Elsewhere it prints "handoff-bench: Linux only" and exits with
// status 2, so that the module still builds there.
//
// Load, against a running server (its pid adds the server-side figures):
//
//	handoff-bench conn -addr 127.0.0.1:11211 -pid PID -c 16 -n 20000 -d 2s
//	handoff-bench req  -addr 127.0.0.1:11211 -pid PID -c 64 -get 0.9 -value 32 -pipeline 1
//	handoff-bench idle -addr 127.0.0.1:11211 -pid PID -c 4000
//
// conn dials, sends one get, reads the reply and closes, from -c dialers at
// once; its server figure is CPU time per connection. req keeps -c
// connections and sends pipelines of gets and sets; its server figure is CPU
// time per request. idle opens -c connections that each make one get and then
// stay open; its server figure is resident memory per idle connection. CPU
// time is utime+stime from /proc/PID/stat, memory VmRSS from
// /proc/PID/status. Every run stops at -n operations or -d, whichever first.
//
// Peers, serving 127.0.0.1:PORT until SIGTERM or SIGINT:
//
//	handoff-bench floor -p PORT      one thread, one raw epoll set, no hand-off
//	handoff-bench handoff-floor -p PORT -t N
//	                                 the floor behind memcached's hand-off: one
//	                                 accepting thread, N worker threads, a queue
//	                                 and a notify pipe each, nothing else
//	handoff-bench netserver -p PORT  Go's net package, a goroutine per connection
//
// The side-by-side comparison (scripts/bench.sh drives it):
//
//	handoff-bench suite -server 'floor=handoff-bench floor -p {port}' -server ... -rounds 5
//	handoff-bench chart -in bench.json -o docs/bench.svg
//
// The store suite, handoffd's cache beside memcached's: fills of -m with
// three value sizes (resident memory, items held), then saturation at each
// connection count and pipeline depth (throughput, latency, CPU):
//
//	handoff-bench store -server 'memcached=...' -server 'handoffd=...' -rounds 3
//
// A server named "handoffd@REV/pipe+per-conn" is that design of handoffd
// built at revision REV: the suite quotes handoffd/pipe+per-conn against it
// as well, round by round, in a before/after table (names.go), and
// -gobench REV=FILE gives it the dispatch figures measured at REV.
package main
