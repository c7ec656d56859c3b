package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"strings"
	"testing"
	"time"
)

// Percentiles are nearest-rank over every client's samples, and thinning a
// full sample set keeps it bounded.
func TestPercentiles(t *testing.T) {
	a, b := new(samples), new(samples)
	for i := 1; i <= 1000; i++ {
		a.add(time.Duration(i))
		b.add(time.Duration(1000 + i))
	}
	p := summarize([]*samples{a, b})
	if p.P50 != 1000 || p.P99 != 1980 || p.P999 != 1998 {
		t.Errorf("percentiles of 1..2000 = %+v; want 1000, 1980, 1998", p)
	}
	var s samples
	for i := 0; i < 3*maxSamples; i++ {
		s.add(time.Duration(i))
	}
	if len(s.v) > maxSamples {
		t.Errorf("samples grew to %d, cap %d", len(s.v), maxSamples)
	}
}

// Medians are taken per figure over the rounds; a mode a server was not
// run in stays absent (null in JSON), and ratios to an absent base print "-".
func TestMediansAndRatios(t *testing.T) {
	runs := map[string][]result{"conn": {{CPUPerOp: 30}, {CPUPerOp: 10}, {CPUPerOp: 20}}}
	f := medians("x", runs)
	if f.CPUPerConn != 20 || f.CPUPerReq.ok() {
		t.Errorf("medians = %+v; want CPUPerConn 20 and no CPUPerReq", f)
	}
	if got := ratio(f.CPUPerConn, 10); got != "2.00x" {
		t.Errorf("ratio = %q", got)
	}
	if got := ratio(f.CPUPerConn, nan); got != "-" {
		t.Errorf("ratio to absent = %q", got)
	}
	b, err := json.Marshal(f)
	if err != nil || !strings.Contains(string(b), `"CPUPerReq":null`) {
		t.Errorf("JSON %s, %v: want CPUPerReq null", b, err)
	}
	var back serverFigures
	if err := json.Unmarshal(b, &back); err != nil || back.CPUPerReq.ok() || back.CPUPerConn != 20 {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

// A ratio is the median of the rounds' ratios: a round where the whole
// machine was slow moves both sides of that round's ratio.
func TestRoundRatios(t *testing.T) {
	runs := map[string]map[string][]result{
		"floor":     {"conn": {{CPUPerOp: 10}, {CPUPerOp: 40}, {CPUPerOp: 10}}, "idle": {{RSSPerConn: 100}}},
		"memcached": {"conn": {{CPUPerOp: 20}, {CPUPerOp: 80}, {CPUPerOp: 20}}},
		"x":         {"conn": {{CPUPerOp: 15}, {CPUPerOp: 60}, {CPUPerOp: 14}}, "idle": {{RSSPerConn: 50}}},
	}
	r := roundRatios(runs, "x", ratioBases)
	want := map[string]jsonFloat{"conn/floor": 1.5, "conn/memcached": 0.75, "idle/floor": 0.5}
	if len(r) != len(want) {
		t.Errorf("ratios %v, want %v", r, want)
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %v, want %v", k, r[k], v)
		}
	}
	f := serverFigures{Ratios: r}
	if got := f.ratioTo("conn", "floor", serverFigures{}); got != "1.50x" {
		t.Errorf("ratioTo = %q", got)
	}
	if got := f.ratioTo("", "floor", serverFigures{}); got != "-" {
		t.Errorf("ratioTo of no mode = %q", got)
	}
}

// The dispatch figure of a handoff server is the median p99-ns of its
// sub-benchmark's runs.
func TestAddDispatch(t *testing.T) {
	path := t.TempDir() + "/d.txt"
	out := "BenchmarkDispatchLatency/pipe+per-conn-2 \t 100\t 5 ns/op\t 10 p50-ns\t 300 p99-ns\n" +
		"BenchmarkDispatchLatency/pipe+per-conn-2 \t 100\t 5 ns/op\t 10 p50-ns\t 100 p99-ns\n" +
		"BenchmarkDispatchLatency/pipe+per-conn-2 \t 100\t 5 ns/op\t 10 p50-ns\t 200 p99-ns\n"
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &report{Servers: []serverFigures{{Name: "handoffd/pipe+per-conn", DispatchP99: nan}, {Name: "floor", DispatchP99: nan}}}
	if err := rep.addDispatch(path, ""); err != nil {
		t.Fatal(err)
	}
	if rep.Servers[0].DispatchP99 != 200 || rep.Servers[1].DispatchP99.ok() {
		t.Errorf("dispatch p99 = %v, %v; want 200 and absent", rep.Servers[0].DispatchP99, rep.Servers[1].DispatchP99)
	}
}

// The chart is well-formed XML with a bar per measured server.
func TestChart(t *testing.T) {
	rep := &report{Rounds: 1, Req: load{Conns: 64, GetRatio: 0.9}, Idle: load{Conns: 10}, Servers: []serverFigures{
		{Name: "floor", CPUPerConn: 50e3, CPUPerReq: 9e3, RSSPerConn: 400, DispatchP99: nan},
		{Name: "memcached", CPUPerConn: 60e3, CPUPerReq: 10e3, RSSPerConn: 600, DispatchP99: nan},
		{Name: "handoffd/pipe+per-conn", CPUPerConn: 80e3, CPUPerReq: 12e3, RSSPerConn: 380, DispatchP99: 2e5},
	}}
	svg := rep.svg()
	d := xml.NewDecoder(strings.NewReader(string(svg)))
	bars := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed: %v\n%s", err, svg)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			bars++
		}
	}
	// 3 servers x 3 figures, 1 dispatch bar, 1 background.
	if bars != 3*3+1+1 {
		t.Errorf("%d rects, want 11", bars)
	}
}
