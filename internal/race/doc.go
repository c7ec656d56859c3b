// Package race says whether the program was built with the race detector
// (go build -race, go test -race): Enabled is a constant, set by the race
// build tag the go command adds with -race.
//
// Tests use it to search, record and check less under the detector, which
// slows the code it watches several times over, and to build the servers
// they run as subprocesses the way they were built themselves. It is one
// constant for the whole module so that no package keeps its own pair of
// build-tagged files for the same fact.
package race
