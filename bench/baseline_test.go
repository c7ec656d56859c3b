package main

import (
	"encoding/xml"
	"os"
	"reflect"
	"strings"
	"testing"
)

// A mode limit is the last '@' suffix only when it names load modes; a
// baseline's revision stays in the name.
func TestSplitModes(t *testing.T) {
	for _, c := range []struct {
		spec, name string
		modes      []string
	}{
		{"floor", "floor", nil},
		{"handoff-echo/pipe+per-conn@conn+idle", "handoff-echo/pipe+per-conn", []string{"conn", "idle"}},
		{"handoffd@1a2b3c4/pipe+per-conn", "handoffd@1a2b3c4/pipe+per-conn", nil},
		{"handoffd@1a2b3c4/eventfd+coalesced@req", "handoffd@1a2b3c4/eventfd+coalesced", []string{"req"}},
	} {
		name, modes := splitModes(c.spec)
		var got []string
		for _, m := range loadModes {
			if modes[m] {
				got = append(got, m)
			}
		}
		if name != c.name || !reflect.DeepEqual(got, c.modes) || (modes == nil) != (c.modes == nil) {
			t.Errorf("splitModes(%q) = %q, %v; want %q, %v", c.spec, name, got, c.name, c.modes)
		}
	}
}

// A baseline server pairs with the current server of the same name, and
// with nothing else.
func TestBaselinesOf(t *testing.T) {
	names := []string{"floor", "memcached", "handoffd/pipe+per-conn", "handoffd@1a2b3c4/pipe+per-conn",
		"handoffd/eventfd+coalesced", "handoffd@1a2b3c4/eventfd+coalesced"}
	if cur, rev := splitRev("handoffd@1a2b3c4/pipe+per-conn"); cur != "handoffd/pipe+per-conn" || rev != "1a2b3c4" {
		t.Errorf("splitRev = %q, %q", cur, rev)
	}
	if got := baselinesOf("handoffd/pipe+per-conn", names); !reflect.DeepEqual(got, []string{"handoffd@1a2b3c4/pipe+per-conn"}) {
		t.Errorf("baselinesOf(current) = %v", got)
	}
	for _, n := range []string{"floor", "handoffd@1a2b3c4/pipe+per-conn"} {
		if got := baselinesOf(n, names); got != nil {
			t.Errorf("baselinesOf(%q) = %v; want none", n, got)
		}
	}
}

// baselineReport is a suite's report with a baseline beside the current
// tree: the current server costs 0.8x its baseline per connection, round by
// round, and 1.25x per request.
func baselineReport(t *testing.T) *report {
	t.Helper()
	cur, base := "handoffd/pipe+per-conn", "handoffd@1a2b3c4/pipe+per-conn"
	runs := map[string]map[string][]result{
		"floor":     {"conn": {{CPUPerOp: 10}, {CPUPerOp: 20}}, "req": {{CPUPerOp: 4}, {CPUPerOp: 4}}},
		"memcached": {"conn": {{CPUPerOp: 20}, {CPUPerOp: 40}}, "req": {{CPUPerOp: 5}, {CPUPerOp: 5}}},
		cur:         {"conn": {{CPUPerOp: 16}, {CPUPerOp: 32}}, "req": {{CPUPerOp: 5}, {CPUPerOp: 5}}},
		base:        {"conn": {{CPUPerOp: 20}, {CPUPerOp: 40}}, "req": {{CPUPerOp: 4}, {CPUPerOp: 4}}},
	}
	names := []string{"floor", "memcached", cur, base}
	rep := &report{Rounds: 2, Req: load{Conns: 64, GetRatio: 0.9}, Idle: load{Conns: 10}}
	for _, n := range names {
		f := medians(n, runs[n])
		f.Ratios = roundRatios(runs, n, ratioPeers(n, names))
		rep.Servers = append(rep.Servers, f)
	}
	return rep
}

// Every server, the baseline's included, is quoted against the floor and
// memcached; the current one also against its baseline.
func TestBaselineRatios(t *testing.T) {
	rep := baselineReport(t)
	cur, _ := rep.find("handoffd/pipe+per-conn")
	base, _ := rep.find("handoffd@1a2b3c4/pipe+per-conn")
	for _, c := range []struct {
		f         serverFigures
		key, want string
	}{
		{cur, "conn/handoffd@1a2b3c4/pipe+per-conn", "0.80x"},
		{cur, "req/handoffd@1a2b3c4/pipe+per-conn", "1.25x"},
		{cur, "conn/floor", "1.60x"},
		{base, "conn/floor", "2.00x"},
		{base, "req/memcached", "0.80x"},
	} {
		mode, peer, _ := strings.Cut(c.key, "/")
		if got := c.f.ratioTo(mode, peer, serverFigures{}); got != c.want {
			t.Errorf("%s %s = %s; want %s", c.f.Name, c.key, got, c.want)
		}
	}
	if len(base.Ratios) != 4 {
		t.Errorf("baseline ratios %v; want conn and req to floor and memcached only", base.Ratios)
	}
}

// The table lists both servers and a before/after section pairing them;
// a run without a baseline prints no such section.
func TestBaselineTable(t *testing.T) {
	var b strings.Builder
	rep := baselineReport(t)
	rep.printTable(&b)
	out := b.String()
	_, after, ok := strings.Cut(out, "before/after")
	if !ok || !strings.Contains(out, "handoffd@1a2b3c4/pipe+per-conn") {
		t.Fatalf("no before/after section or baseline row:\n%s", out)
	}
	if f := strings.Fields(strings.Split(strings.TrimSpace(after), "\n")[2]); len(f) < 4 ||
		f[0] != "handoffd/pipe+per-conn" || f[1] != "handoffd@1a2b3c4/pipe+per-conn" || f[2] != "0.80x" || f[3] != "1.25x" {
		t.Errorf("before/after row %q", f)
	}
	b.Reset()
	rep.Servers = rep.Servers[:3]
	rep.printTable(&b)
	if strings.Contains(b.String(), "before/after") {
		t.Errorf("before/after without a baseline:\n%s", b.String())
	}
}

// A DispatchLatency output goes to the servers of its revision only.
func TestAddDispatchByRevision(t *testing.T) {
	dir := t.TempDir()
	line := func(p99 string) string {
		return "BenchmarkDispatchLatency/pipe+per-conn-2 \t 100\t 5 ns/op\t 10 p50-ns\t " + p99 + " p99-ns\n"
	}
	if err := os.WriteFile(dir+"/cur.txt", []byte(line("100")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/base.txt", []byte(line("300")), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &report{Servers: []serverFigures{
		{Name: "handoffd/pipe+per-conn", DispatchP99: nan},
		{Name: "handoffd@1a2b3c4/pipe+per-conn", DispatchP99: nan},
	}}
	if err := rep.addDispatch(dir+"/cur.txt", ""); err != nil {
		t.Fatal(err)
	}
	if rep.Servers[0].DispatchP99 != 100 || rep.Servers[1].DispatchP99.ok() {
		t.Errorf("after the current tree's: %v, %v; want 100 and absent", rep.Servers[0].DispatchP99, rep.Servers[1].DispatchP99)
	}
	if err := rep.addDispatch(dir+"/base.txt", "1a2b3c4"); err != nil {
		t.Fatal(err)
	}
	if rep.Servers[0].DispatchP99 != 100 || rep.Servers[1].DispatchP99 != 300 {
		t.Errorf("after the baseline's: %v, %v; want 100 and 300", rep.Servers[0].DispatchP99, rep.Servers[1].DispatchP99)
	}
}

// The chart widens its label column to the longest name and draws the
// baseline's bars in their own class.
func TestBaselineChart(t *testing.T) {
	svg := baselineReport(t).svg()
	var root struct {
		Width string `xml:"width,attr"`
		Rects []struct {
			X     string `xml:"x,attr"`
			Class string `xml:"class,attr"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal(svg, &root); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	baseline := 0
	for _, r := range root.Rects {
		if r.Class == "o" {
			baseline++
		}
		if r.Class != "" && r.X != root.Rects[len(root.Rects)-1].X {
			t.Errorf("bars start at %s and %s", r.X, root.Rects[len(root.Rects)-1].X)
		}
	}
	if baseline != 2 {
		t.Errorf("%d baseline bars; want 2 (conn and req)", baseline)
	}
	if root.Width == "760" {
		t.Errorf("chart width %s: the label column did not widen for %q", root.Width, "handoffd@1a2b3c4/pipe+per-conn")
	}
}
