//go:build race

package reliability

// raceEnabled: under go test -race, handoffd is built with -race too, so a
// data race the fault scenarios provoke in it fails the test that stopped it
// (the race detector makes it exit 66 instead of 0).
const raceEnabled = true
