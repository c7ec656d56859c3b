package race

import (
	"runtime/debug"
	"testing"
)

// Enabled agrees with the -race setting the go command records in the
// binary's build information, the other way a program can tell.
func TestEnabledMatchesBuildInfo(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build information")
	}
	recorded := false
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			recorded = s.Value == "true"
		}
	}
	if recorded != Enabled {
		t.Errorf("Enabled = %v, build information says -race=%v", Enabled, recorded)
	}
}
