//go:build !race

package model

// raceEnabled is set under -race; see race_test.go.
const raceEnabled = false
