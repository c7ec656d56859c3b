// Package reliability holds handoff's fault, overload and bad-input tests
// and the probes they and the soak program (cmd/soak) share. The probes
// watch handoffd from outside, as an operator's tools would, so they import
// none of handoff's packages but internal/procstat.
//
// The tests run on real loopback sockets, bounded in time, as part of
// go test ./...: most start handoffd as a subprocess, built once by TestMain
// (with -race when the tests run with it, so a race the faults provoke in
// handoffd fails the test that stops it), and watch it from outside through
// its stats command, its log and /proc (resident memory, open fds, CPU
// time); the ones that need a handler the cache does not have (one that
// panics, one that keeps stale Conn handles) run the reactor in-process.
// One concern per file:
//
//	emfile_test.go      RLIMIT_NOFILE 64, 250 clients: no spin, listen_disabled_num, recovery
//	maxconns_test.go    -c: memcached's reject line, rejected_connections, recovery
//	slowreader_test.go  clients that never read: bounded memory, others still served
//	badinput_test.go    malformed requests one by one, random bytes from 1,000 connections
//	reset_test.go       connections reset at every stage of a request and reply
//	storm_test.go       connect-ask-close storms over every notify x wake-up design
//	sigterm_test.go     SIGTERM during a storm, and while out of fds with slow readers
//	idle_test.go        -o idle_timeout, idle_kicks
//	halfclose_test.go   shutdown(SHUT_WR) after the requests: every reply still arrives
//	panic_test.go       handler panics in each callback (in-process reactor)
//	fdreuse_test.go     stale Conn handles under churn never reach a reused fd (in-process)
//
// Each test names the property it checks, as in spec/SPEC.md: P4 no lost
// wake-up, P5 no fd leak, P6 close before reuse, P7 clean shutdown.
//
// The non-test files are the probes: Daemon starts and stops handoffd (with a
// lowered RLIMIT_NOFILE when asked), Client speaks just enough of the
// memcached text protocol to set, get and read stats, and ReadProc samples a
// process from /proc (through internal/procstat).
//
// Linux only: elsewhere the probes build, so that the module does, but
// ReadProc fails with an error wrapping errors.ErrUnsupported and a Daemon
// started with NoFile exits before it listens.
package reliability
