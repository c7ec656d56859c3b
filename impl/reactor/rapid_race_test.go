//go:build race

package reactor_test

// raceEnabled: under the race detector the live-server rapid test runs
// fewer cases (rapidServerChecks), as each costs several times more.
const raceEnabled = true
