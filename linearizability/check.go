package linearizability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Result is the outcome of one check.
type Result struct {
	// Name is the check's name, "round-robin", "queue", ...
	Name string
	// Ops is the number of operations in the history; Parties says who
	// performed them ("64 clients", "4 workers, 2 acceptors").
	Ops     int
	Parties string
	// Outcome is porcupine's verdict; Unknown means the search timed out.
	Outcome porcupine.CheckResult
	Elapsed time.Duration
	// Visualization is the path of porcupine's HTML rendering of the
	// history, written when Outcome is not Ok; "" otherwise.
	Visualization string
	// VisualizationErr is why the rendering could not be written.
	VisualizationErr error
}

// Ok reports whether the history was found linearizable.
func (r Result) Ok() bool { return r.Outcome == porcupine.Ok }

// String is lincheck's line for r, for example
// "lincheck round-robin: 10240 operations, 64 clients, Ok in 1.2s".
func (r Result) String() string {
	s := fmt.Sprintf("lincheck %s: %d operations, %s, %s in %.2fs", r.Name, r.Ops, r.Parties, outcome(r.Outcome), r.Elapsed.Seconds())
	switch {
	case r.Visualization != "":
		s += "; visualization: " + r.Visualization
	case r.VisualizationErr != nil:
		s += "; no visualization: " + r.VisualizationErr.Error()
	}
	return s
}

func outcome(c porcupine.CheckResult) string {
	switch c {
	case porcupine.Ok:
		return "Ok"
	case porcupine.Illegal:
		return "Illegal"
	default:
		return "Unknown (timed out)"
	}
}

// Check runs porcupine over h, bounded by timeout. An Unknown outcome (the
// search timed out) is a failure like Illegal: nothing was shown.
func Check(name string, m porcupine.Model, h []porcupine.Operation, parties string, timeout time.Duration) Result {
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(m, h, timeout)
	return Result{Name: name, Ops: len(h), Parties: parties, Outcome: res, Elapsed: time.Since(start)}
}

// Visualize checks h again, computing the partial linearizations (bounded
// by timeout), and writes porcupine's HTML visualization of them into dir
// (os.TempDir() if dir is "") as lincheck-<name>-*.html; it returns the
// file's path.
func Visualize(name string, m porcupine.Model, h []porcupine.Operation, timeout time.Duration, dir string) (string, error) {
	_, info := porcupine.CheckOperationsVerbose(m, h, timeout)
	return visualize(name, m, info, dir)
}

func visualize(name string, m porcupine.Model, info porcupine.LinearizationInfo, dir string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	f, err := os.CreateTemp(dir, "lincheck-"+slug+"-*.html")
	if err != nil {
		return "", err
	}
	path := f.Name()
	if err := porcupine.Visualize(m, info, f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path, nil
}
