// Package reliability holds handoff's fault, overload and bad-input tests
// (issue 6) and the probes they and the soak program (cmd/soak) share.
//
// The tests run on real loopback sockets, bounded in time, as part of
// go test ./...: most start handoffd as a subprocess, built once by TestMain,
// and watch it from outside through its stats command and /proc (resident
// memory, open fds, threads, CPU time); the ones that need a handler the
// cache does not have (one that panics, one that keeps stale Conn handles)
// run the reactor in-process. Each test names the property it checks, as in
// spec/SPEC.md: P5 no fd leak, P6 close before reuse, P7 clean shutdown.
//
// The non-test files are the probes: Daemon starts and stops handoffd (with a
// lowered RLIMIT_NOFILE when asked), Client speaks just enough of the
// memcached text protocol to set, get and read stats, and ReadProc samples a
// process from /proc. They have no dependency on handoff's own packages, so
// they observe the server exactly as a user's tools would.
//
// Linux only.
package reliability
