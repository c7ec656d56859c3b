// Package reactortest is the kit every test of a server built on package
// reactor uses, in the spirit of net/http/httptest: a server started for one
// test and stopped, its clean stop checked, when the test ends; clients that
// dial it with bounded waits; handlers that tell each client which Worker
// serves it, echo within the output bound, or count their callbacks; and a
// wait that fails with every goroutine's stack. It holds no production code
// and nothing the reactor itself imports.
//
// Serve checks P7 clean shutdown (spec/SPEC.md) at the end of every test that
// uses it: Shutdown returns within a generous bound and Serve returns
// reactor.ErrServerClosed. The greeting "w=W id=I\n" of Greeter names the
// connection's Worker and its accept sequence number (Conn.ID), which is
// what tests of P1 exactly-once and P2 round-robin compare with the model;
// ParseGreeting reads it back.
//
// The reactor's own in-package tests cannot import this package, since it
// imports reactor; they test unexported parts alone and need no server kit.
package reactortest
