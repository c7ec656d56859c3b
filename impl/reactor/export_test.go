package reactor

// The internals the external tests (package reactor_test) look at; the most
// test machinery the package carries, and none of it shipped.

// ConnFD returns c's fd number, for tests that watch the kernel reuse it.
func ConnFD(c *Conn) int { return c.fd }

// ConnGone reports whether c's OnClose has run, as AsyncWrite sees it.
func ConnGone(c *Conn) bool { return c.gone.Load() }

// WorkerLoad returns Worker i's least-connections load.
func WorkerLoad(s *Server, i int) int64 { return s.workers[i].load.Load() }

// WorkerStopping reports whether Worker i has been told to stop.
func WorkerStopping(s *Server, i int) bool { return s.workers[i].stopFlag.Load() }

// EnsureProcs is ensureProcs.
var EnsureProcs = ensureProcs

// NotifyCombos are the four notify × wake-up designs, named as the bench
// names them.
var NotifyCombos = func() (out []NotifyCombo) {
	for _, c := range notifyCombos {
		out = append(out, NotifyCombo{c.name, c.notify, c.wakeup})
	}
	return out
}()

// NotifyCombo is one notify × wake-up design.
type NotifyCombo struct {
	Name   string
	Notify Notify
	Wakeup Wakeup
}
