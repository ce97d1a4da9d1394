package chart

import "math"

// Geometry of the SVG and PNG renderings, in pixels.
const (
	width      = 800
	height     = 600
	plotLeft   = 70
	plotRight  = width - 60 // room for the weight axis
	plotWidth  = plotRight - plotLeft
	panelH     = 200
	panelGap   = 60 // x labels of the upper panel and title of the lower
	firstTop   = 90
	legendY    = 52
	markerText = 12 // marker labels sit this far above a panel
)

// panelTop is the top edge of panel i (0: error rate, 1: latency).
func panelTop(i int) float64 { return float64(firstTop + i*(panelH+panelGap)) }

func panelBottom(i int) float64 { return panelTop(i) + panelH }

// layout maps data to pixels for one chart.
type layout struct {
	n    int
	axes []axis // one per metric
}

func newLayout(points []Point) layout {
	l := layout{n: len(points)}
	for _, m := range metrics {
		l.axes = append(l.axes, m.scale(points))
	}
	return l
}

// x is the centre of point i's band: points are evenly spaced categories,
// like Mermaid's x-axis, so that every step gets room whatever its length.
func (l layout) x(i int) float64 {
	return plotLeft + (float64(i)+0.5)*plotWidth/float64(l.n)
}

// band is the horizontal extent of point i.
func (l layout) band(i int) (float64, float64) {
	w := float64(plotWidth) / float64(l.n)
	return plotLeft + float64(i)*w, plotLeft + float64(i+1)*w
}

// y maps value v of panel p, clamped to the panel.
func (l layout) y(p int, v float64) float64 {
	v = math.Max(0, math.Min(v, l.axes[p].max))
	return panelBottom(p) - v/l.axes[p].max*panelH
}

// yWeight maps a weight percentage onto panel p's right-hand axis.
func (l layout) yWeight(p, w int) float64 {
	f := math.Max(0, math.Min(float64(w), 100)) / 100
	return panelBottom(p) - f*panelH
}

// ticks are the values of panel p's axis marks.
func (l layout) ticks(p int) []float64 {
	a := l.axes[p]
	var out []float64
	for i := 0; ; i++ {
		v := float64(i) * a.step
		if v > a.max*(1+1e-9) {
			return out
		}
		out = append(out, v)
	}
}

// runs splits a series into stretches without gaps; each is a list of
// point indexes.
func runs(points []Point, value func(Point) float64) [][]int {
	var out [][]int
	var cur []int
	for i, p := range points {
		if missing(value(p)) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, i)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// labelEvery thins x labels so that they don't overlap.
func (l layout) labelEvery() int {
	const maxLabels = 14
	return (l.n + maxLabels - 1) / maxLabels
}
