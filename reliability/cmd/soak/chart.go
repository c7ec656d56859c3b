package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// Chart geometry in pixels.
const (
	chartW     = 760
	plotLeft   = 70
	plotRight  = 20
	panelH     = 150
	panelTop   = 30
	panelFoot  = 24
	chartTitle = 30
)

// chartPanel is one series drawn against time, with the line fitted to its
// second half when it was judged.
type chartPanel struct {
	title string
	// xs are the times of ys, in seconds: the chart's own, or a subset of
	// them for a series some samples lack (goroutines come from stats).
	xs, ys []float64
	tr     *trend
}

// svg draws the panels stacked, sharing the time axis xs (seconds): a
// polyline per series, its range on the left, the fitted line over the
// second half dashed (red when it trends upward).
func svg(title string, xs []float64, panels []chartPanel) []byte {
	var b bytes.Buffer
	height := chartTitle + len(panels)*(panelTop+panelH+panelFoot)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", chartW, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	if len(xs) < 2 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	x0, x1 := xs[0], xs[len(xs)-1]
	w := float64(chartW - plotLeft - plotRight)
	for i, p := range panels {
		top := float64(chartTitle + i*(panelTop+panelH+panelFoot) + panelTop)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, y := range p.ys {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		lo = math.Min(lo, 0)
		if hi <= lo {
			hi = lo + 1
		}
		hi *= 1.05
		px := func(x float64) float64 { return plotLeft + (x-x0)/(x1-x0)*w }
		py := func(y float64) float64 { return top + panelH - (y-lo)/(hi-lo)*panelH }
		label := p.title
		if p.tr != nil {
			label += fmt.Sprintf(" — fitted rise over the second half %+.1f, tolerance %.1f", p.tr.rise, p.tr.tolerance)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", plotLeft, top-8, html.EscapeString(label))
		fmt.Fprintf(&b, `<rect x="%d" y="%.0f" width="%.0f" height="%d" fill="none" stroke="#bbb"/>`+"\n", plotLeft, top, w, panelH)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.4g</text>`+"\n", plotLeft-4, top+10, hi)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%.4g</text>`+"\n", plotLeft-4, top+panelH, lo)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f">0 s</text><text x="%d" y="%.0f" text-anchor="end">%.0f s</text>`+"\n",
			plotLeft, top+panelH+14, chartW-plotRight, top+panelH+14, x1-x0)
		b.WriteString(`<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="`)
		for j, y := range p.ys {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p.xs[j]), py(y))
		}
		b.WriteString("\"/>\n")
		if p.tr != nil && len(p.xs) >= 4 {
			h := len(p.xs) / 2
			color := "#2a2"
			if p.tr.upward {
				color = "#d22"
			}
			xa, xb := p.xs[h], p.xs[len(p.xs)-1]
			ya := p.tr.intercept + p.tr.slope*xa
			yb := p.tr.intercept + p.tr.slope*xb
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="6 4"/>`+"\n",
				px(xa), py(ya), px(xb), py(yb), color)
		}
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
