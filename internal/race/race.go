//go:build race

package race

// Enabled is true: this program was built with -race.
const Enabled = true
