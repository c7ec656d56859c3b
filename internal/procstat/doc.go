// Package procstat reads a process's CPU time, memory and open fds from
// /proc: the figures the bench quotes for a server and the bounds the
// reliability and reactor tests put on one ("no busy loop", "no fd leak").
// It reads and nothing more: it never starts, signals or changes the process
// it looks at, and the bounds and ratios built on its figures belong to its
// callers.
//
// It is Linux only: elsewhere every reader returns an error wrapping
// errors.ErrUnsupported, so that its importers still build.
package procstat
