package main

import (
	"slices"
	"strings"
)

// A server's name in a suite is "server", or "server/design" for one design
// of a server ("handoffd/pipe+per-conn"), or "server@rev/design" for that
// design built at another revision of the tree ("handoffd@1a2b3c4/..."),
// the baseline a run measures the current tree against. The report pairs
// each baseline with the current server of the same name without "@rev",
// and gives a dispatch figure to a design of the revision it was measured
// at.

// loadModes are the load modes a server can be limited to.
var loadModes = []string{"conn", "req", "idle"}

// splitModes cuts the mode limit off a -server name: "name@conn+idle" is
// name limited to conn and idle (nil modes: every mode). The suffix after
// the last '@' is a limit only if every word of it is a load mode, so that
// a revision ("handoffd@1a2b3c4/pipe+per-conn") stays part of the name.
func splitModes(spec string) (name string, modes map[string]bool) {
	i := strings.LastIndexByte(spec, '@')
	if i < 0 {
		return spec, nil
	}
	modes = make(map[string]bool)
	for m := range strings.SplitSeq(spec[i+1:], "+") {
		if !slices.Contains(loadModes, m) {
			return spec, nil
		}
		modes[m] = true
	}
	return spec[:i], modes
}

// splitRev splits a server name into the name it has in the current tree
// and the revision it was built at ("" for the current tree):
// "handoffd@1a2b3c4/pipe+per-conn" is "handoffd/pipe+per-conn" at 1a2b3c4.
func splitRev(name string) (current, rev string) {
	head, design, hasDesign := strings.Cut(name, "/")
	server, rev, _ := strings.Cut(head, "@")
	if hasDesign {
		return server + "/" + design, rev
	}
	return server, rev
}

// design returns the part of a server's name after the first '/': the
// DispatchLatency sub-benchmark it runs ("" for a server of one design).
func design(name string) string {
	_, d, _ := strings.Cut(name, "/")
	return d
}

// baselinesOf returns the servers of names that are name built at another
// revision, in the order given.
func baselinesOf(name string, names []string) []string {
	if _, rev := splitRev(name); rev != "" {
		return nil
	}
	var out []string
	for _, n := range names {
		if cur, rev := splitRev(n); rev != "" && cur == name {
			out = append(out, n)
		}
	}
	return out
}
