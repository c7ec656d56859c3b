package main

import (
	"slices"
	"time"
)

// samples keeps latencies up to a fixed count, so a long run cannot grow the
// client's memory without bound; past the cap every k-th sample is kept
// (k doubling each time the cap is reached), which keeps the percentiles of
// a steady run.
type samples struct {
	v []time.Duration
	// every and skip thin the stream once v is full.
	every, skip int
}

// maxSamples is the cap of one samples.
const maxSamples = 1 << 18

func (s *samples) add(d time.Duration) {
	if s.every > 1 {
		s.skip++
		if s.skip < s.every {
			return
		}
		s.skip = 0
	}
	if len(s.v) == maxSamples {
		// Keep every other sample and take one in twice as many from now.
		for i := 0; i < len(s.v)/2; i++ {
			s.v[i] = s.v[2*i]
		}
		s.v = s.v[:len(s.v)/2]
		s.every = max(2, 2*s.every)
	}
	s.v = append(s.v, d)
}

// percentiles are the client-side latency figures of a run.
type percentiles struct {
	P50, P99, P999 time.Duration
}

// summarize merges the samples of all clients and returns their percentiles
// (nearest rank).
func summarize(all []*samples) percentiles {
	var v []time.Duration
	for _, s := range all {
		v = append(v, s.v...)
	}
	if len(v) == 0 {
		return percentiles{}
	}
	slices.Sort(v)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(v)) + 0.5)
		return v[min(max(i-1, 0), len(v)-1)]
	}
	return percentiles{P50: at(0.50), P99: at(0.99), P999: at(0.999)}
}
