// Package memcache is a memcached-compatible cache: the memcached 1.6 text
// protocol (classic and meta commands) over a sharded in-memory store, served
// as a reactor.Handler.
//
// It has three layers, each testable without the one below it:
//
//   - Store (store.go, store_ops.go) holds the items: a fixed number of
//     shards, each a hash map with its own mutex, its own LRU list and its own
//     share of the memory limit. Time comes from an injected clock, so expiry
//     is deterministic under test.
//   - Conn (proto.go, commands.go, meta.go, stats.go) is one connection's
//     protocol processor: given the unconsumed input it parses as many
//     complete commands as it can, appends their replies to an output buffer
//     and reports how many bytes it consumed. It does no I/O.
//   - Handler (handler.go) adapts Conn to the reactor's Handler interface.
//
// Replies follow memcached 1.6.18 byte for byte for every case the transcripts
// in testdata cover; they were recorded against a real memcached 1.6.18.
package memcache
