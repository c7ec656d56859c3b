package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTrendVerdicts: the verdict must catch a leak and pass a healthy
// series, or the soak proves nothing. Series of 120 samples, one a second.
func TestTrendVerdicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 120)
	for i := range xs {
		xs[i] = float64(i)
	}
	series := func(f func(x float64) float64) []float64 {
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = f(x)
		}
		return ys
	}
	rss := tolerance{floor: 8, rel: 0.10} // MiB
	for _, c := range []struct {
		name   string
		ys     []float64
		tol    tolerance
		upward bool
	}{
		{"warm-up then flat, with GC noise", series(func(x float64) float64 {
			return 100*(1-math.Exp(-x/10)) + 15*rng.Float64()
		}), rss, false},
		{"sawtooth of a collecting heap", series(func(x float64) float64 { return 80 + float64(int(x)%17) }), rss, false},
		{"one late peak", series(func(x float64) float64 {
			if x == 119 {
				return 140
			}
			return 100
		}), rss, false},
		{"steady leak of 0.5 MiB/s", series(func(x float64) float64 { return 100 + 0.5*x + 5*rng.Float64() }), rss, true},
		{"leak that starts at half time", series(func(x float64) float64 { return 100 + 0.3*max(0, x-60) }), rss, true},
		{"fds: one leaked every 5 s", series(func(x float64) float64 { return 30 + float64(int(x)/5) + float64(rng.IntN(8)) }), tolerance{floor: 4, rel: 0.1}, true},
		{"fds: churning but flat", series(func(x float64) float64 { return 30 + float64(rng.IntN(20)) }), tolerance{floor: 4, rel: 0.1}, false},
		{"fds: bursts of 256 connections in a few late samples", series(func(x float64) float64 {
			if int(x)%20 == 19 || x == 118 {
				return 290
			}
			return 30 + float64(rng.IntN(10))
		}), tolerance{floor: 4, rel: 0.1}, false},
		{"goroutines: a fixed set, one more now and then", series(func(x float64) float64 {
			return 7 + float64(rng.IntN(10)/9)
		}), tolerance{floor: 4, rel: 0.1}, false},
		{"goroutines: one leaked every 10 s", series(func(x float64) float64 { return 7 + float64(int(x)/10) }), tolerance{floor: 4, rel: 0.1}, true},
	} {
		got := analyze(c.name, xs, c.ys, c.tol)
		if got.upward != c.upward {
			t.Errorf("%s: %v, want upward=%v", c.name, got, c.upward)
		}
	}
}
