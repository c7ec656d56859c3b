package main

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
)

// storeRow is one figure of the store suite, for every server: the median
// over the rounds.
type storeRow struct {
	group, name, unit string
	better            string // "lower" or "higher"
	values            []float64
}

// medianOf returns the median of xs; NaN for none.
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rows are the report's figures, in the order the table and the chart show
// them.
func (rep *storeReport) rows() []storeRow {
	var rows []storeRow
	fill := func(kind, name, unit, better string, get func(fillResult) float64) {
		r := storeRow{group: "fill " + kind, name: name, unit: unit, better: better}
		for _, s := range rep.Names {
			var xs []float64
			for _, f := range rep.Fills[s][kind] {
				xs = append(xs, get(f))
			}
			r.values = append(r.values, medianOf(xs))
		}
		rows = append(rows, r)
	}
	for _, k := range fillKinds {
		fill(k.name, "RSS", "MiB", "lower", func(f fillResult) float64 { return float64(f.RSS) / (1 << 20) })
		fill(k.name, "items held", "", "higher", func(f fillResult) float64 { return float64(f.Items) })
	}
	sat := func(run, name, unit, better string, get func(result) float64) {
		r := storeRow{group: run, name: name, unit: unit, better: better}
		for _, s := range rep.Names {
			var xs []float64
			for _, x := range rep.Sat[s][run] {
				xs = append(xs, get(x))
			}
			r.values = append(r.values, medianOf(xs))
		}
		rows = append(rows, r)
	}
	for _, run := range rep.Runs {
		sat(run, "requests/s", "", "higher", func(r result) float64 { return r.OpsPerSec })
		sat(run, "p50", "µs", "lower", func(r result) float64 { return float64(r.Latency.P50.Microseconds()) })
		sat(run, "p99", "µs", "lower", func(r result) float64 { return float64(r.Latency.P99.Microseconds()) })
		sat(run, "p99.9", "µs", "lower", func(r result) float64 { return float64(r.Latency.P999.Microseconds()) })
		sat(run, "CPU per request", "µs", "lower", func(r result) float64 { return r.CPUPerOp / 1e3 })
	}
	return rows
}

// print writes the table: each figure per server, and each server's ratio
// to the first.
func (rep *storeReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nstore: -m %d MiB, fills of %.0fx -m, medians of %d rounds; ratios to %s\n\n", rep.MemMiB, rep.Fill, rep.Rounds, rep.Names[0])
	fmt.Fprintf(w, "%-12s %-16s", "load", "figure")
	for _, n := range rep.Names {
		fmt.Fprintf(w, " %14s", n)
	}
	for _, n := range rep.Names[1:] {
		fmt.Fprintf(w, " %10s", n+"÷")
	}
	fmt.Fprintln(w)
	for _, r := range rep.rows() {
		name := r.name
		if r.unit != "" {
			name += " (" + r.unit + ")"
		}
		fmt.Fprintf(w, "%-12s %-16s", r.group, name)
		for _, v := range r.values {
			fmt.Fprintf(w, " %14.1f", v)
		}
		for _, v := range r.values[1:] {
			fmt.Fprintf(w, " %10.2f", v/r.values[0])
		}
		fmt.Fprintln(w)
	}
}

// svg draws, per figure, each server's ratio to the first as a bar around
// the line at 1.0, green where it is the better side of memcached's.
func (rep *storeReport) svg() []byte {
	rows := rep.rows()
	const left, span, rowH, top = 230, 360, 18, 40
	width := left + span + 80
	height := top + rowH*len(rows) + 20
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="8" y="18" font-size="14">%s ÷ %s, -m %d MiB (fills %.0fx -m; saturation 90%% gets), medians of %d rounds</text>`+"\n",
		html.EscapeString(rep.Names[len(rep.Names)-1]), html.EscapeString(rep.Names[0]), rep.MemMiB, rep.Fill, rep.Rounds)
	// x for a ratio: 0 at left, 2.0 at left+span.
	x := func(ratio float64) float64 { return left + span*math.Min(math.Max(ratio, 0), 2)/2 }
	for i, r := range rows {
		y := top + i*rowH
		ratio := r.values[len(r.values)-1] / r.values[0]
		good := (r.better == "lower") == (ratio <= 1)
		colour := "#c0392b"
		if good {
			colour = "#27ae60"
		}
		x0, x1 := x(1), x(ratio)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		fmt.Fprintf(&b, `<text x="8" y="%d">%s — %s</text>`+"\n", y+13, html.EscapeString(r.group), html.EscapeString(r.name))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y+3, math.Max(x1-x0, 1), rowH-6, colour)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%.2f</text>`+"\n", left+span+8, y+13, ratio)
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000" stroke-dasharray="4,3"/>`+"\n", x(1), top, x(1), top+rowH*len(rows))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">1.0 = %s</text>`+"\n", x(1), top+rowH*len(rows)+14, html.EscapeString(rep.Names[0]))
	b.WriteString("</svg>\n")
	return b.Bytes()
}
