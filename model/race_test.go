//go:build race

package model

// raceEnabled is set under -race. The model runs on one goroutine, so the
// race detector has nothing to find in it and only slows the search ten
// times over; the tests then search smaller systems.
const raceEnabled = true
