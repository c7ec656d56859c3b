// Package memcache is a memcached-compatible cache: a sharded in-memory
// Store, the Cache state every connection shares, a Session per connection
// that speaks the memcached 1.6 text protocol (classic and meta commands)
// and its binary protocol, and Protocol, which serves Sessions on a reactor. Nothing here may open a
// socket, hold a file descriptor or start a goroutine, and the only system
// calls are the process figures stats reports (getpid, getrusage): the store
// and the sessions are pure over an injected clock, and the only reactor
// dependency is the Protocol adapter.
//
// Its layers, from the bottom up, are each tested without the ones above:
//
//   - Store (store.go, store_ops.go, store_stats.go, slabs.go, slabs_move.go,
//     assoc.go, item.go) holds the items as memcached does: slab classes of
//     chunks in pages of one arena of the memory limit, an LRU per class,
//     and a hash table in shards, each with its own mutex. Time comes from an
//     injected clock, so expiry is deterministic under test.
//   - Cache (proto.go) is what the sessions share: the Store, the Settings
//     and the server-wide counters that stats reports. RunReaper sweeps its
//     expired items on the caller's goroutine.
//   - Session (proto.go, commands.go, meta.go, stats.go, admin.go, detail.go,
//     and binary.go and binary_ops.go for the binary protocol) is one connection's
//     protocol processor: given the unconsumed input, Process parses as many
//     complete commands as it can, appends their replies to an output buffer
//     and reports how many bytes it consumed. It does no I/O.
//   - Protocol (protocol.go) is the reactor.Handler that serves them: it gives
//     each connection a Session and each Worker a reply buffer and parsing
//     Scratch, and in OnBoot it learns its server's Workers and output bound
//     and feeds its connection figures to stats.
//
// Replies follow memcached 1.6.18 byte for byte for every case the transcripts
// in testdata mark "memcached"; TestTranscriptsAgainstMemcached replays those
// against a real memcached (MEMCACHED_ADDR).
//
// Where it differs from memcached 1.6.18, and why, is listed in the
// repository's README ("Where handoffd differs from memcached"), beside
// how the differential fuzzer finds such differences.
package memcache
