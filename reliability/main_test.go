package reliability

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/race"
)

// handoffd is the binary TestMain built for the subprocess tests, with -race
// when the tests run with it (buildFlags); plainHandoffd is built without,
// as it ships, for the tests that hold it to a memory or CPU bound (the race
// detector multiplies both).
var handoffd, plainHandoffd string

// TestMain builds handoffd once for every test (with the tests' -race,
// buildFlags), and doubles as the RLIMIT_NOFILE launcher
// (ExecWithNoFile) when the fd-exhaustion test re-executes this binary.
func TestMain(m *testing.M) {
	ExecWithNoFile()
	dir, err := os.MkdirTemp("", "handoff-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	handoffd, err = BuildHandoffd(dir, buildFlags(race.Enabled)...)
	if err == nil {
		plainHandoffd = handoffd
		if race.Enabled {
			plainHandoffd, err = BuildHandoffd(dir+"/plain", buildFlags(false)...)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildFlags are the go build flags handoffd is built with: -race when race
// is set, so that a data race the fault scenarios provoke in handoffd fails
// the test that stops it (the race detector makes it exit 66 instead of 0).
// Nothing else of this test binary's build is passed on: no build tag
// changes what handoffd does, so it is built from the tree as it is, and a
// seeded fault (scripts/faults) reaches it only if its patch was applied to
// that tree.
func buildFlags(race bool) []string {
	if race {
		return []string{"-race"}
	}
	return nil
}

// startDaemon starts handoffd with o and makes sure it is gone when the test
// ends (a test that stops it itself checks the exit; the rest are killed).
func startDaemon(t testing.TB, o Options) *Daemon {
	t.Helper()
	return startBinary(t, handoffd, o)
}

// startPlainDaemon is startDaemon with the build without -race, for
// figures the race detector would distort (resident memory, CPU time).
func startPlainDaemon(t testing.TB, o Options) *Daemon {
	t.Helper()
	return startBinary(t, plainHandoffd, o)
}

func startBinary(t testing.TB, bin string, o Options) *Daemon {
	t.Helper()
	if bin == handoffd && race.Enabled {
		// The race detector's exit waits a second for late reports by
		// default; a tenth is plenty for a process that has joined all its
		// goroutines, and the tests start a dozen daemons.
		o.Env = append(o.Env, "GORACE=atexit_sleep_ms=100")
	}
	// $HANDOFF_IO runs every daemon on that backend (make test runs both);
	// unset, epoll, the reactor's default (handoffd's own, auto, is uring
	// where the kernel allows it).
	v := reactortest.IO()
	if v == "" {
		v = reactor.IOEpoll
	}
	o.Args = append(slices.Clone(o.Args), "--io", string(v))
	d, err := Start(bin, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Wait(0); err == ErrStillRunning {
			if _, err := d.Stop(10 * time.Second); err != nil {
				t.Errorf("handoffd after SIGTERM at cleanup: %v\n%s", err, d.Log())
				d.Kill()
			}
		}
	})
	return d
}

// dialClient connects a Client to d, failing the test if it cannot.
func dialClient(t testing.TB, d *Daemon) *Client {
	t.Helper()
	c, err := Dial(d.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stats reads d's stats, failing the test if it cannot.
func stats(t testing.TB, d *Daemon) Stats {
	t.Helper()
	st, err := d.Stats()
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return st
}

// proc samples d, failing the test if it cannot.
func proc(t testing.TB, d *Daemon) Proc {
	t.Helper()
	p, err := d.Proc()
	if err != nil {
		t.Fatalf("/proc of handoffd: %v", err)
	}
	return p
}

// waitFor polls cond every 5 ms until it holds or within passes; it is for
// figures only exposed by stats or /proc, which cannot be awaited otherwise.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// fdList names d's open fds (number -> target), for a failure message.
func fdList(d *Daemon) map[string]string {
	dir := fmt.Sprintf("/proc/%d/fd", d.Pid)
	names, _ := os.ReadDir(dir)
	out := map[string]string{}
	for _, n := range names {
		out[n.Name()], _ = os.Readlink(dir + "/" + n.Name())
	}
	return out
}

// waitFDs waits for d's fd count to come back to baseline (P5 no fd leak,
// spec/SPEC.md): a connection whose fd is never closed keeps it above.
func waitFDs(t testing.TB, d *Daemon, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := proc(t, d).FDs
		if n == baseline {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("P5: handoffd holds %d fds, %d at baseline: %v", n, baseline, fdList(d))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// baselineFDs returns d's fd count once it is steady: the Go runtime opens
// its own netpoller (an epoll fd and an eventfd) lazily, shortly after
// handoffd prints its address, and those two are not connections. Steady is
// the same count for 10 samples 20 ms apart, after a stats round trip.
func baselineFDs(t testing.TB, d *Daemon) int {
	t.Helper()
	stats(t, d)
	last, same := -1, 0
	deadline := time.Now().Add(10 * time.Second)
	for same < 10 {
		n := proc(t, d).FDs
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("handoffd's fd count never settled: %v", fdList(d))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return last
}
