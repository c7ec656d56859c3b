// Package linearizability holds the porcupine models of the hand-off and of
// handoffd's cache, and the recorders that take histories from a live reactor
// over real connections. It sees the server only as its clients and its
// trace hook do, and no package of the server imports it, so porcupine never
// reaches a server binary.
//
// Each check asks porcupine whether what concurrent clients observe of a
// running reactor is linearizable against a sequential specification
// (spec/DESIGN.md §4, spec/SPEC.md):
//
//   - round-robin: an operation is one client's connect, its output the
//     Worker and the sequence number the server reports in OnOpen; the
//     specification's state is the number of connects so far, whose value
//     mod N is the next Worker, so the history is linearizable exactly when
//     some order of the connects consistent with real time numbers them
//     0, 1, 2, ... and hands out Workers 0, 1, ..., N-1, 0, ... (P2
//     round-robin, as observed from outside the server). With K
//     Acceptors on SO_REUSEPORT listeners the same specification must hold:
//     the counter is shared.
//   - queue: each Worker's connection queue, from the reactor's trace: an
//     enqueue is a Dispatch, a dequeue a Pop, and the specification is a FIFO
//     queue per Worker (P1 exactly-once, P3 per-worker FIFO).
//   - kv: handoffd's cache over TCP (impl/memcache on a reactor), 64
//     clients running get, gets, set, delete, append, cas and incr on 8
//     keys, against a per-key specification whose CAS unique is learned
//     from gets (KV); the twins StaleRead and StaleCAS and a live server
//     whose cas ignores the unique (CasIgnoresUnique) must be refuted.
//
// Every check has a broken twin, a history with one seeded defect, that
// porcupine must refute: a checker that never fails proves nothing. An
// Unknown result (the search ran out of time) counts as a failure. When a
// check fails, porcupine's HTML visualization is written to a file and its
// path reported.
//
// The command lincheck (cmd/lincheck) runs the full-size checks and prints
// one line per check; the package's tests run them smaller.
package linearizability
