package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"unicode/utf8"
)

// chartFile redraws the chart of a suite's JSON results.
func chartFile(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, rep.svg(), 0o644)
}

// panel is one chart: a bar per server for one figure, and the target
// handoff sets itself for that figure as a dashed line.
type panel struct {
	mode   string // the load mode the figure comes from; "" for none
	title  string
	unit   string
	scale  float64 // divides the figure for display
	get    func(serverFigures) jsonFloat
	target func(rep *report) (float64, string) // in display units; label
}

// Chart geometry in pixels. The label column is at least labelWidth and
// widens to the longest server name, at labelChar a character (12 px sans
// serif averages about 6.5), so that a baseline's "handoffd@rev/..." is not
// cut off at the left edge; the bars keep barSpan whatever the labels take.
const (
	labelWidth = 190
	labelChar  = 6.5
	barSpan    = 440
	barHeight  = 16
	barGap     = 4
	panelHead  = 34
	panelFoot  = 14
	valueRoom  = 130
)

// svg draws the report as a plain SVG: one panel per figure, horizontal
// bars, each labelled with its value and its ratio to the floor. Servers
// built at a baseline revision are drawn in a lighter shade of the current
// tree's colour.
func (rep *report) svg() []byte {
	labelW := labelWidth
	for _, s := range rep.Servers {
		labelW = max(labelW, int(labelChar*float64(utf8.RuneCountInString(s.Name)))+16)
	}
	chartWidth := labelW + barSpan + valueRoom
	floor, _ := rep.find("floor")
	mc, hasMC := rep.find("memcached")
	panels := []panel{
		{"conn", "Server CPU per short connection", "µs", 1e3, func(s serverFigures) jsonFloat { return s.CPUPerConn },
			func(*report) (float64, string) {
				if !floor.CPUPerConn.ok() {
					return 0, ""
				}
				return 1.15 * float64(floor.CPUPerConn) / 1e3, "target 1.15x floor"
			}},
		{"req", fmt.Sprintf("Server CPU per request (%d conns, %.0f%% gets)", rep.Req.Conns, rep.Req.GetRatio*100), "µs", 1e3,
			func(s serverFigures) jsonFloat { return s.CPUPerReq },
			func(*report) (float64, string) {
				if !hasMC || !mc.CPUPerReq.ok() {
					return 0, ""
				}
				return 0.9 * float64(mc.CPUPerReq) / 1e3, "target 0.9x memcached"
			}},
		{"idle", fmt.Sprintf("Resident memory per idle connection (%d conns, fresh process)", rep.Idle.Conns), "B", 1,
			func(s serverFigures) jsonFloat { return s.RSSPerConn },
			func(*report) (float64, string) { return 512, "target 512 B" }},
		{"", "Dispatch latency p99, accept to OnOpen", "µs", 1e3, func(s serverFigures) jsonFloat { return s.DispatchP99 }, nil},
	}
	var body bytes.Buffer
	y := 40
	for _, p := range panels {
		var rows []serverFigures
		maxV := 0.0
		for _, s := range rep.Servers {
			if v := p.get(s); v.ok() {
				rows = append(rows, s)
				maxV = max(maxV, float64(v)/p.scale)
			}
		}
		if len(rows) == 0 {
			continue
		}
		tv, tl := 0.0, ""
		if p.target != nil {
			tv, tl = p.target(rep)
			maxV = max(maxV, tv)
		}
		if maxV <= 0 {
			maxV = 1
		}
		span := float64(barSpan)
		fmt.Fprintf(&body, `<text x="10" y="%d" class="t">%s</text>`+"\n", y+16, html.EscapeString(p.title))
		top := y + panelHead
		for i, s := range rows {
			v := float64(p.get(s)) / p.scale
			by := top + i*(barHeight+barGap)
			w := v / maxV * span
			class := "b"
			switch s.Name {
			case "floor", "handoff-floor":
				class = "f"
			case "memcached":
				class = "m"
			}
			if _, rev := splitRev(s.Name); rev != "" {
				class = "o"
			}
			label := fmt.Sprintf("%.2f %s", v, p.unit)
			if p.unit == "B" {
				label = fmt.Sprintf("%.0f B", v)
			}
			if r := s.ratioTo(p.mode, "floor", floor); p.mode != "" && r != "-" && s.Name != "floor" {
				label += "  " + r + " floor"
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" class="l">%s</text>`+"\n", labelW-8, by+12, html.EscapeString(s.Name))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" class="%s"/>`+"\n", labelW, by, max(w, 1), barHeight, class)
			fmt.Fprintf(&body, `<text x="%.1f" y="%d" class="v">%s</text>`+"\n", float64(labelW)+max(w, 1)+6, by+12, html.EscapeString(label))
		}
		bottom := top + len(rows)*(barHeight+barGap)
		if tl != "" {
			x := float64(labelW) + tv/maxV*span
			fmt.Fprintf(&body, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="g"/>`+"\n", x, top-4, x, bottom)
			fmt.Fprintf(&body, `<text x="%.1f" y="%d" class="gt">%s</text>`+"\n", x, top-7, html.EscapeString(tl))
		}
		y = bottom + panelFoot
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, y+10, chartWidth, y+10)
	out.WriteString(`<style>
.t{font-weight:bold;font-size:13px}.l{text-anchor:end}.v{fill:#333}
.b{fill:#4878a8}.o{fill:#a4bcd4}.f{fill:#888}.m{fill:#c8803a}
.g{stroke:#c03030;stroke-dasharray:4 3;stroke-width:1.5}.gt{fill:#c03030;font-size:11px;text-anchor:middle}
</style>
<rect width="100%" height="100%" fill="white"/>
`)
	fmt.Fprintf(&out, `<text x="10" y="20" class="t">handoff side by side on loopback, medians of %d rounds (%s); lower is better</text>`+"\n",
		rep.Rounds, html.EscapeString(rep.When))
	out.Write(body.Bytes())
	out.WriteString("</svg>\n")
	return out.Bytes()
}
