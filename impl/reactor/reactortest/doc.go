// Package reactortest provides what tests of servers built on package
// reactor share, in the spirit of net/http/httptest: a server started for one
// test and stopped, with its clean stop checked, when the test ends, and a
// handler that tells each client which Worker serves it.
//
// Serve checks P7 clean shutdown (spec/SPEC.md) at the end of every test that
// uses it: Shutdown returns within a generous bound and Serve returns nil. The
// greeting "w=W id=I\n" of Greeter names the connection's Worker and its
// accept sequence number (Conn.ID), which is what tests of P1 exactly-once and
// P2 round-robin compare with the model; ParseGreeting reads it back.
//
// The package is for tests of other packages and of reactor's external test
// package (reactor_test); reactor's own in-package tests cannot import it,
// since it imports reactor.
package reactortest
