package main

import (
	"fmt"
	"math"
	"sort"
)

// trend is the verdict on one sampled series.
type trend struct {
	name string
	// slope is the Theil–Sen slope over the second half, per second, and
	// intercept the line's value at 0 s; rise is slope times the second
	// half's length: how much the series grew across it, noise and outliers
	// aside.
	slope, intercept, rise float64
	// firstMean and secondMean are the halves' means, for the report.
	firstMean, secondMean float64
	// tolerance is the largest rise accepted.
	tolerance float64
	upward    bool
}

func (t trend) String() string {
	verdict := "flat"
	if t.upward {
		verdict = "TRENDS UPWARD"
	}
	return fmt.Sprintf("%-10s first-half mean %10.1f  second-half mean %10.1f  fitted (Theil–Sen) rise over the second half %+9.1f (tolerance %.1f): %s",
		t.name, t.firstMean, t.secondMean, t.rise, t.tolerance, verdict)
}

// tolerance rule: a series trends upward when the line fitted to its second
// half rises by more than max(floor, rel × the second half's median).
//
// The first half is warm-up: the cache fills up to -m, the Go heap finds its
// size, the runtime starts the threads it will keep. A leak is what keeps
// growing after that, at a steady rate, so the verdict is on the second half
// alone, and on a fitted line rather than on the last sample, which may sit
// on a garbage-collection peak. The line is Theil–Sen's (the median of the
// slopes between every pair of samples), not least squares: a few samples
// taken during a burst of connections or at a collection's peak do not tilt
// it, while a steady leak moves every pair's slope alike. The relative part
// of the tolerance covers the noise of a healthy process: the Go heap grows
// up to twice its live size between collections (GOGC=100) and the
// scavenger returns pages lazily, so resident memory wanders within a band
// of about 10% once the cache is full; the fd count moves with the
// connections open at the sampling instant. The goroutine count does not
// move with connections at all: handoffd runs a fixed set (main, one per
// worker and per acceptor, the idle reaper, two for signals: 7 at -t 2), so
// any lasting rise is a leak, and the tolerance only absorbs a goroutine a
// library may start for a moment. The floor covers small series (a few fds,
// a dozen threads, a handful of goroutines) where 10% is less than one
// step: 4 fds, 2 threads, 4 goroutines. A leak of one fd or one goroutine
// per thousand connections, or of 100 bytes per connection, at the soak's
// thousands of connections per second, rises far beyond either within
// minutes.
type tolerance struct {
	floor, rel float64
}

// analyze fits the second half of ys (sampled at xs seconds) and compares
// the rise with tol.
func analyze(name string, xs, ys []float64, tol tolerance) trend {
	t := trend{name: name}
	n := len(ys)
	if n < 4 {
		return t
	}
	h := n / 2
	t.firstMean = mean(ys[:h])
	t.secondMean = mean(ys[h:])
	t.slope, t.intercept = theilSen(xs[h:], ys[h:])
	t.rise = t.slope * (xs[n-1] - xs[h])
	t.tolerance = math.Max(tol.floor, tol.rel*median(ys[h:]))
	t.upward = t.rise > t.tolerance
	return t
}

func mean(ys []float64) float64 {
	s := 0.0
	for _, y := range ys {
		s += y
	}
	return s / float64(len(ys))
}

func median(ys []float64) float64 {
	s := append([]float64(nil), ys...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// theilSen returns the median of the slopes between every pair of points
// with distinct xs, and the median of y - slope*x as the intercept.
func theilSen(xs, ys []float64) (slope, intercept float64) {
	var slopes []float64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if dx := xs[j] - xs[i]; dx != 0 {
				slopes = append(slopes, (ys[j]-ys[i])/dx)
			}
		}
	}
	if len(slopes) == 0 {
		return 0, median(ys)
	}
	slope = median(slopes)
	rest := make([]float64, len(xs))
	for i := range xs {
		rest[i] = ys[i] - slope*xs[i]
	}
	return slope, median(rest)
}
