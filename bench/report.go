package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// report is what a suite run found: per server, the median of each figure
// over the rounds. It is written as JSON and drawn by chart.
type report struct {
	When    string
	Rounds  int
	Conn    load
	Req     load
	Idle    load
	Servers []serverFigures
	// Disturbed counts the runs kept although other work passed the quiet
	// bound at every try.
	Disturbed int
}

// serverFigures are one server's medians; NaN (null in JSON: absent) where
// the server was not measured in that mode.
type serverFigures struct {
	Name string
	// CPUPerConn and CPUPerReq are server CPU nanoseconds per short
	// connection and per request; RSSPerConn bytes per idle connection.
	CPUPerConn, CPUPerReq, RSSPerConn jsonFloat
	// ConnPerSec and ReqPerSec are client-side throughput; ReqP50, ReqP99 and
	// ReqP999 request latency in nanoseconds; ConnP99 a short connection's.
	ConnPerSec, ReqPerSec            jsonFloat
	ReqP50, ReqP99, ReqP999, ConnP99 jsonFloat
	// DispatchP99 is the p99 from accept to OnOpen in nanoseconds, from the
	// reactor's DispatchLatency benchmark (handoff servers only).
	DispatchP99 jsonFloat
	// Errors counts failed operations over every run.
	Errors int64
	// Ratios are the medians over the rounds of each round's ratio of this
	// server's cost to a peer's, keyed "conn/floor", "req/memcached",
	// "idle/floor" and so on, and, for a server of the current tree, to
	// itself at a baseline revision ("conn/handoffd@1a2b3c4/pipe+per-conn").
	// The peers of a round are measured minutes apart at most, so a machine
	// whose load drifts during the run moves both sides of each ratio
	// together; a ratio of medians would not.
	Ratios map[string]jsonFloat `json:",omitempty"`
}

// ratioBases are the peers every cost is quoted against: the floor, the
// floor behind memcached's hand-off (what the hand-off itself costs), and
// memcached.
var ratioBases = []string{"floor", "handoff-floor", "memcached"}

// ratioPeers are the peers the server name is quoted against among the
// servers names: ratioBases, and the server itself at each baseline
// revision that ran (baselinesOf).
func ratioPeers(name string, names []string) []string {
	return append(slices.Clip(ratioBases), baselinesOf(name, names)...)
}

// roundRatios returns, for each mode and each peer in bases that ran it,
// the median over rounds of name's cost in a round divided by the peer's in
// the same round.
func roundRatios(runs map[string]map[string][]result, name string, bases []string) map[string]jsonFloat {
	out := make(map[string]jsonFloat)
	for _, mode := range loadModes {
		mine := runs[name][mode]
		cost := func(r result) float64 { return r.CPUPerOp }
		if mode == "idle" {
			cost = func(r result) float64 { return r.RSSPerConn }
		}
		for _, base := range bases {
			theirs := runs[base][mode]
			var per []result
			for i := 0; i < len(mine) && i < len(theirs); i++ {
				if b := cost(theirs[i]); b > 0 {
					per = append(per, result{CPUPerOp: cost(mine[i]) / b})
				}
			}
			if len(per) > 0 {
				out[mode+"/"+base] = median(per, func(r result) float64 { return r.CPUPerOp })
			}
		}
	}
	return out
}

// ratioTo returns s's ratio to the peer base in mode: the median of the
// per-round ratios when the run recorded them, else the ratio of medians.
func (s serverFigures) ratioTo(mode, base string, baseFig serverFigures) string {
	if v, ok := s.Ratios[mode+"/"+base]; ok && v.ok() {
		return fmt.Sprintf("%.2fx", float64(v))
	}
	get := map[string]func(serverFigures) jsonFloat{
		"conn": func(f serverFigures) jsonFloat { return f.CPUPerConn },
		"req":  func(f serverFigures) jsonFloat { return f.CPUPerReq },
		"idle": func(f serverFigures) jsonFloat { return f.RSSPerConn },
	}[mode]
	if get == nil {
		return "-"
	}
	return ratio(get(s), get(baseFig))
}

// jsonFloat is a float64 that encodes NaN as null.
type jsonFloat float64

var nan = jsonFloat(math.NaN())

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(f), 'f', 1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nan
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = jsonFloat(v)
	return err
}

func (f jsonFloat) ok() bool { return !math.IsNaN(float64(f)) }

// median of the figure get picks from each run; NaN when there are no runs.
func median(runs []result, get func(result) float64) jsonFloat {
	if len(runs) == 0 {
		return nan
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = get(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return jsonFloat(v[len(v)/2])
	}
	return jsonFloat((v[len(v)/2-1] + v[len(v)/2]) / 2)
}

func medians(name string, runs map[string][]result) serverFigures {
	conn, req, idle := runs["conn"], runs["req"], runs["idle"]
	f := serverFigures{
		Name:        name,
		CPUPerConn:  median(conn, func(r result) float64 { return r.CPUPerOp }),
		ConnPerSec:  median(conn, func(r result) float64 { return r.OpsPerSec }),
		ConnP99:     median(conn, func(r result) float64 { return float64(r.Latency.P99) }),
		CPUPerReq:   median(req, func(r result) float64 { return r.CPUPerOp }),
		ReqPerSec:   median(req, func(r result) float64 { return r.OpsPerSec }),
		ReqP50:      median(req, func(r result) float64 { return float64(r.Latency.P50) }),
		ReqP99:      median(req, func(r result) float64 { return float64(r.Latency.P99) }),
		ReqP999:     median(req, func(r result) float64 { return float64(r.Latency.P999) }),
		RSSPerConn:  median(idle, func(r result) float64 { return r.RSSPerConn }),
		DispatchP99: nan,
	}
	for _, rs := range [][]result{conn, req, idle} {
		for _, r := range rs {
			f.Errors += r.Errors
		}
	}
	return f
}

// addDispatch reads `go test -bench DispatchLatency` output of the tree at
// rev ("" for the current one) and gives each server of that revision named
// ".../<sub-benchmark>" the median of the sub-benchmark's p99-ns over its
// runs (-count). A server built at another revision keeps its own figure:
// the current tree's latency is not the baseline's.
func (rep *report) addDispatch(path, rev string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p99 := make(map[string][]result)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkDispatchLatency/") {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkDispatchLatency/")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] == "p99-ns" {
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					p99[name] = append(p99[name], result{CPUPerOp: v})
				}
			}
		}
	}
	for i, s := range rep.Servers {
		if _, r := splitRev(s.Name); r != rev {
			continue
		}
		if runs, ok := p99[design(s.Name)]; ok {
			rep.Servers[i].DispatchP99 = median(runs, func(r result) float64 { return r.CPUPerOp })
		}
	}
	return nil
}

// find returns the figures of the server named name, if any.
func (rep *report) find(name string) (serverFigures, bool) {
	for _, s := range rep.Servers {
		if s.Name == name {
			return s, true
		}
	}
	return serverFigures{}, false
}

// ratio formats v/base, or "-" when either is missing.
func ratio(v, base jsonFloat) string {
	if !v.ok() || !base.ok() || base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(v)/float64(base))
}

func micros(v jsonFloat) string {
	if !v.ok() {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(v)/1e3)
}

func plain(v jsonFloat, format string) string {
	if !v.ok() {
		return "-"
	}
	return fmt.Sprintf(format, float64(v))
}

// printTable prints the medians, each cost with its ratio to the floor and
// to memcached, and the cost per connection also to the hand-off floor.
func (rep *report) printTable(w io.Writer) {
	floor, _ := rep.find("floor")
	hfloor, _ := rep.find("handoff-floor")
	mc, hasMC := rep.find("memcached")
	if !hasMC {
		mc = serverFigures{CPUPerConn: nan, CPUPerReq: nan, RSSPerConn: nan}
	}
	fmt.Fprintf(w, "medians of %d rounds (ratios: median of each round's ratio); conn: %d dialers; req: %d conns, %.0f%% gets, %d B values, pipeline %d; idle: %d conns on a fresh process\n",
		rep.Rounds, rep.Conn.Conns, rep.Req.Conns, rep.Req.GetRatio*100, rep.Req.ValueSize, rep.Req.Pipeline, rep.Idle.Conns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tCPU/conn µs\t/floor\t/handoff-floor\t/memcached\tCPU/req µs\t/floor\t/memcached\tRSS/idle conn B\t/floor\t/memcached\tconn/s\treq/s\treq p50 µs\treq p99 µs\treq p99.9 µs\tdispatch p99 µs\terrors\t")
	for _, s := range rep.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", s.Name,
			micros(s.CPUPerConn), s.ratioTo("conn", "floor", floor), s.ratioTo("conn", "handoff-floor", hfloor), s.ratioTo("conn", "memcached", mc),
			micros(s.CPUPerReq), s.ratioTo("req", "floor", floor), s.ratioTo("req", "memcached", mc),
			plain(s.RSSPerConn, "%.0f"), s.ratioTo("idle", "floor", floor), s.ratioTo("idle", "memcached", mc),
			plain(s.ConnPerSec, "%.0f"), plain(s.ReqPerSec, "%.0f"),
			micros(s.ReqP50), micros(s.ReqP99), micros(s.ReqP999), micros(s.DispatchP99), s.Errors)
	}
	tw.Flush()
	rep.printBeforeAfter(w)
}

// printBeforeAfter prints, for each server of the current tree measured
// beside itself at a baseline revision, its cost in each mode as a ratio to
// the baseline's (below 1: the current tree is cheaper). Nothing when no
// baseline ran.
func (rep *report) printBeforeAfter(w io.Writer) {
	names := make([]string, len(rep.Servers))
	for i, s := range rep.Servers {
		names[i] = s.Name
	}
	var tw *tabwriter.Writer
	for _, s := range rep.Servers {
		for _, b := range baselinesOf(s.Name, names) {
			if tw == nil {
				fmt.Fprintln(w, "\nbefore/after: the current tree's cost as a ratio to its baseline's, below 1 when cheaper (CPU and RSS: median of each round's ratio; dispatch: ratio of the medians)")
				tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
				fmt.Fprintln(tw, "server\tbaseline\tCPU/conn\tCPU/req\tRSS/idle conn\tdispatch p99\t")
			}
			bf, _ := rep.find(b)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Name, b,
				s.ratioTo("conn", b, bf), s.ratioTo("req", b, bf), s.ratioTo("idle", b, bf), ratio(s.DispatchP99, bf.DispatchP99))
		}
	}
	if tw != nil {
		tw.Flush()
	}
}
