// Command handoff-echo is the smallest real server on the reactor: it echoes
// every byte back. It uses the reactor's exported API and nothing else, as
// any program built on the library must, so it is also the shortest complete
// example of one.
//
// Its flags are memcached's where memcached has one.
//
//	handoff-echo -l 127.0.0.1 -p 11211 -t 4 -c 1024 -notify pipe -wakeup per-conn -balance rr
//	handoff-echo -s /tmp/echo.sock
//
// SIGTERM or SIGINT stops it gracefully (every connection closed, every
// goroutine joined) with exit status 0. Bad flags exit with status 2.
package main
