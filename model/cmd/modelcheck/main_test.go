package main

import (
	"bytes"

	"github.com/handoffd/handoff/model"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code, _ := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A correct design exits 0 and says every property holds; the output ends
// with the number of states explored.
func TestHolds(t *testing.T) {
	code, out, _ := runArgs(t, "-variant", "memcached", "-workers", "2", "-conns", "3", "-acceptors", "1", "-pipecap", "1", "-q")
	if code != 0 || !strings.Contains(out, "all properties hold") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.HasPrefix(lastLine(out), "states explored: ") {
		t.Errorf("last line %q, want the number of states explored", lastLine(out))
	}
}

// P4 no lost wake-up (spec/SPEC.md): a seeded bug exits 1, names the
// property and prints the counterexample, and -dot writes it as a graph.
func TestViolated(t *testing.T) {
	dot := filepath.Join(t.TempDir(), "cex.dot")
	code, out, _ := runArgs(t, "-variant", "bug-drop-on-full-pipe", "-dot", dot, "-q")
	if code != 1 || !strings.Contains(out, "P4 no lost wake-up violated") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, " 15. ") || strings.Contains(out, " 16. ") {
		t.Errorf("want a counterexample of 15 numbered steps:\n%s", out)
	}
	if !strings.HasPrefix(lastLine(out), "states explored: ") {
		t.Errorf("last line %q, want the number of states explored", lastLine(out))
	}
	g, err := os.ReadFile(dot)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(g), "digraph") || strings.Count(string(g), "->") != 15 {
		t.Errorf("DOT file is not the 15-step counterexample:\n%s", g)
	}
}

// Bad usage exits 2: an unknown design, a stray argument, bad bounds.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-variant", "nope"},
		{"-variant", "memcached", "extra"},
		{"-variant", "memcached", "-workers", "-1"},
		{"-bogus"},
	} {
		if code, _, _ := runArgs(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// -list names every design with its expected outcome.
func TestList(t *testing.T) {
	code, out, _ := runArgs(t, "-list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"memcached ", "coalesced ", "bug-racy-rr ", "P2 round-robin violated", "holds"} {
		if !strings.Contains(out, want) {
			t.Errorf("-list lacks %q:\n%s", want, out)
		}
	}
	if n, want := strings.Count(out, "\n"), len(model.Designs())+len(model.LifeDesigns()); n != want {
		t.Errorf("-list printed %d lines, want %d", n, want)
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return l[len(l)-1]
}

// P6 close before reuse (spec/SPEC.md): a lifecycle bug exits 1, names the
// property and prints its counterexample; the correct design exits 0; a
// -bounds out of range is bad usage.
func TestLifeVariant(t *testing.T) {
	code, out, _ := runArgs(t, "-variant", "bug-stale-task", "-q")
	if code != 1 || !strings.Contains(out, "P6 close before reuse violated") || !strings.Contains(out, " 31. ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runArgs(t, "-variant", "life", "-bounds", "3", "-q")
	if code != 0 || !strings.Contains(out, "all properties hold") || !strings.HasPrefix(lastLine(out), "states explored: ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if code, _, _ := runArgs(t, "-variant", "life", "-bounds", "9"); code != 2 {
		t.Errorf("-bounds 9: exit %d, want 2", code)
	}
}
