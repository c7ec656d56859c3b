package race_test

import (
	"fmt"

	"github.com/handoffd/handoff/internal/race"
)

// A test sizes its load by the race detector, which slows a run several
// times over, rather than by a timing it measured.
func Example() {
	conns := 5000
	if race.Enabled {
		conns = 500
	}
	fmt.Println(conns >= 500)
	// Output: true
}
