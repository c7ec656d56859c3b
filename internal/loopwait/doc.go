// Package loopwait is how a goroutine locked to its thread, running an event
// loop, waits on its epoll set. It is Linux only: elsewhere the package is
// empty, so that it exists for tools that walk every package, and a caller
// off Linux fails to build where it names Wait.
//
// Its callers are the reactor's Linux kernel, for its Acceptors and Workers,
// and the bench's floors, which must pay no more for waiting than the
// reactor does. It waits and nothing more: it opens, registers and closes no
// fd and knows nothing of the hand-off, so that the reactor and the floors
// wait in exactly the same way.
package loopwait
