package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
)

type svgView struct {
	Width, Height int
	Title         string
	LegendY       float64
	Panels        []svgPanel
	Markers       []svgMarker
	Empty         bool
	PlotLeft      float64
	PlotRight     float64
	Colours       map[string]string
	Texts         []svgText
}

// svgText is a textItem as the template reads it.
type svgText struct {
	textItem
	FontWeight string
}

type svgPanel struct {
	Title               string
	Top, Bottom, TitleY float64
	YTicks              []svgTick
	WeightTicks         []svgTick
	Weight              string // polygon points of the weight steps
	Lines               []svgLine
	Dots                []svgDot
	XLabels             []svgTick
	XLabelY             float64
}

type svgTick struct {
	Pos   float64
	Label string
}

type svgLine struct {
	Series, Metric, Colour, Points string
}

type svgDot struct {
	Series, Colour string
	X, Y           float64
}

type svgMarker struct {
	X, Top, Bottom, TextY float64
	Colour, Label         string
}

var svgTemplate = template.Must(template.New("svg").Funcs(template.FuncMap{
	"esc": func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	},
	"f":   func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"div": func(v int) int { return v / 2 },
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}).Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" font-family="sans-serif" font-size="11">
<title>{{esc .Title}}</title>
<rect width="100%" height="100%" fill="#ffffff"/>
<g class="legend" transform="translate({{f .PlotLeft}},{{f .LegendY}})">
<line x1="0" y1="0" x2="20" y2="0" stroke="{{.Colours.canary}}" stroke-width="2"/>
<line x1="90" y1="0" x2="110" y2="0" stroke="{{.Colours.stable}}" stroke-width="2"/>
<rect x="180" y="-6" width="20" height="12" fill="{{.Colours.weight}}" fill-opacity="0.25"/>
</g>
{{- range $i, $p := .Panels}}
<g class="panel" id="panel-{{$i}}">
<polygon class="weight" points="{{$p.Weight}}" fill="{{$.Colours.weight}}" fill-opacity="0.25" stroke="none"/>
{{- range $p.YTicks}}
<line class="grid" x1="{{f $.PlotLeft}}" y1="{{f .Pos}}" x2="{{f $.PlotRight}}" y2="{{f .Pos}}" stroke="#e0e0e0"/>
{{- end}}
<rect class="frame" x="{{f $.PlotLeft}}" y="{{f $p.Top}}" width="{{f (sub $.PlotRight $.PlotLeft)}}" height="{{f (sub $p.Bottom $p.Top)}}" fill="none" stroke="#9e9e9e"/>
{{- range $p.XLabels}}
<line x1="{{f .Pos}}" y1="{{f $p.Bottom}}" x2="{{f .Pos}}" y2="{{f (add $p.Bottom 4)}}" stroke="#9e9e9e"/>
{{- end}}
{{- range $p.Lines}}
<polyline class="{{.Series}} {{.Metric}}" points="{{.Points}}" fill="none" stroke="{{.Colour}}" stroke-width="2" stroke-linejoin="round"/>
{{- end}}
{{- range $p.Dots}}
<circle class="{{.Series}}" cx="{{f .X}}" cy="{{f .Y}}" r="2.5" fill="{{.Colour}}"/>
{{- end}}
</g>
{{- end}}
{{- range .Markers}}
<g class="marker">
<line x1="{{f .X}}" y1="{{f .Top}}" x2="{{f .X}}" y2="{{f .Bottom}}" stroke="{{.Colour}}" stroke-width="1.5" stroke-dasharray="4 3"/>
</g>
{{- end}}
<g class="labels">
{{- range .Texts}}
<text class="{{.Class}}" x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}" font-size="{{.Size}}" font-weight="{{.FontWeight}}" fill="{{.Colour}}"{{if .Halo}} stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"{{end}}>{{esc .Text}}</text>
{{- end}}
</g>
</svg>
`))

// SVG renders the chart as a self-contained SVG document.
func (c Chart) SVG() []byte {
	v := c.svgView()
	for _, t := range v.texts() {
		v.Texts = append(v.Texts, svgText{textItem: t, FontWeight: t.fontWeight()})
	}
	var b bytes.Buffer
	if err := svgTemplate.Execute(&b, v); err != nil {
		// The template and view are ours: failing here is a bug.
		panic(fmt.Sprintf("chart: render SVG: %v", err))
	}
	return b.Bytes()
}

func pt(x, y float64) string { return fmt.Sprintf("%.1f,%.1f", x, y) }

func (c Chart) svgView() svgView {
	v := svgView{
		Width: width, Height: height, Title: c.title(), LegendY: legendY,
		PlotLeft: plotLeft, PlotRight: plotRight, Empty: len(c.Points) == 0,
		Colours: map[string]string{"canary": canaryColour, "stable": stableColour, "weight": weightColour},
	}
	if v.Empty {
		return v
	}
	l := newLayout(c.Points)
	names := labels(c.Points)
	every := l.labelEvery()
	for pi, m := range metrics {
		p := svgPanel{
			Title: fmt.Sprintf("%s (%s)", m.name, m.unit),
			Top:   panelTop(pi), Bottom: panelBottom(pi), TitleY: panelTop(pi) - 8,
			XLabelY: panelBottom(pi) + 16,
		}
		for _, t := range l.ticks(pi) {
			p.YTicks = append(p.YTicks, svgTick{Pos: l.y(pi, t), Label: formatNum(t, 3) + m.unit})
		}
		for _, w := range []int{0, 50, 100} {
			p.WeightTicks = append(p.WeightTicks, svgTick{Pos: l.yWeight(pi, w), Label: fmt.Sprintf("%d%%", w)})
		}
		// The weight as steps: flat across each point's band.
		poly := []string{pt(plotLeft, panelBottom(pi))}
		for i, point := range c.Points {
			x0, x1 := l.band(i)
			y := l.yWeight(pi, point.Weight)
			poly = append(poly, pt(x0, y), pt(x1, y))
		}
		poly = append(poly, pt(plotRight, panelBottom(pi)))
		p.Weight = strings.Join(poly, " ")
		for i := range c.Points {
			if i%every == 0 {
				p.XLabels = append(p.XLabels, svgTick{Pos: l.x(i), Label: names[i]})
			}
		}
		// Stable first, so that the canary is drawn on top.
		for _, s := range []struct {
			name, colour string
			value        func(Point) float64
		}{{"stable", stableColour, m.stable}, {"canary", canaryColour, m.canary}} {
			metricClass := strings.ReplaceAll(strings.ToLower(m.name), " ", "-")
			for _, run := range runs(c.Points, s.value) {
				var pts []string
				for _, i := range run {
					x, y := l.x(i), l.y(pi, s.value(c.Points[i]))
					pts = append(pts, pt(x, y))
					p.Dots = append(p.Dots, svgDot{Series: s.name, Colour: s.colour, X: x, Y: y})
				}
				p.Lines = append(p.Lines, svgLine{Series: s.name, Metric: metricClass, Colour: s.colour, Points: strings.Join(pts, " ")})
			}
		}
		v.Panels = append(v.Panels, p)
	}
	for k, mk := range c.Markers {
		i := markerIndex(c.Points, mk)
		// At the end of the step, since the decision follows its analysis;
		// the label goes left of the line, inside the plot.
		_, x := l.band(i)
		label := mk.Decision
		if mk.Label != "" {
			label += ": " + mk.Label
		}
		v.Markers = append(v.Markers, svgMarker{
			X: x, Top: panelTop(0), Bottom: panelBottom(len(metrics) - 1), TextY: panelTop(0) + float64(markerText*(1+k%3)), // staggered against overlap
			Colour: decisionColour(mk.Decision), Label: shorten(label, 40),
		})
	}
	return v
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
