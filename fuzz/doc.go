// Package fuzz holds handoff's go test -fuzz targets that cut across
// packages, with their seed corpora (spec/DESIGN.md §4: no panic, no
// divergence on arbitrary input). Apart from this doc it has test files
// only, so nothing here is built into a binary, and a target that needs one
// package's unexported parts lives in that package instead.
//
// The targets here:
//
//   - FuzzModelSchedule: the input chooses a design's size and, byte by
//     byte, which enabled step the model takes next; a correct design must
//     never break P1–P3 on the way nor P4 once no step is enabled.
//   - FuzzReactorScript: the input becomes a script of connects, sends and
//     closes against a live in-process reactor; every connection must be
//     served once, round-robin, in per-worker FIFO order (P1–P3), its echo
//     must come back intact, and the trace must replay through the model.
//
// FuzzQueue and FuzzCloseBeforeReuse (P6), which need the reactor's
// unexported queue and fds, live in impl/reactor. Seed corpora are under
// testdata/fuzz/<Name>; go test runs them, go test -fuzz=Name
// -fuzztime=30s explores further.
package fuzz
