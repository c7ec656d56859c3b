//go:build !race

package race

// Enabled is false: this program was built without -race.
const Enabled = false
