//go:build race

package linearizability

// raceEnabled: the race detector slows the clients and the server several
// times over, so the tests record smaller histories.
const raceEnabled = true
