// Package chart draws a canary rollout: error rate and p95 latency of canary
// and stable over the steps, with the traffic weight behind them. It renders
// Mermaid for the step summary (GitHub renders it), and SVG and PNG files
// for artifacts (the PNG's text in the Go fonts of golang.org/x/image).
package chart

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Point is one analysis sample of the rollout.
type Point struct {
	Time   time.Time
	Step   int // 1-based step index
	Weight int // canary traffic, percent
	// Error rates are fractions (0.012 = 1.2 %); p95 latencies are seconds.
	// NaN means no data and leaves a gap.
	CanaryErrorRate, StableErrorRate float64
	CanaryP95, StableP95             float64
}

// Marker is a decision taken at a step, drawn as a vertical line there.
type Marker struct {
	Step     int    // the step decided on; 0 or unknown means after the last point
	Decision string // continue, pause, fail, promoted, rolled-back, aborted
	Label    string // short text, e.g. the reason
}

// Chart is a rollout to draw.
type Chart struct {
	Title   string // "Canary rollout" if empty
	Points  []Point
	Markers []Marker
}

// Mermaid renders points as Mermaid xychart blocks.
func Mermaid(points []Point, markers ...Marker) string {
	return Chart{Points: points, Markers: markers}.Mermaid()
}

// SVG renders points as a self-contained SVG image.
func SVG(points []Point, markers ...Marker) []byte {
	return Chart{Points: points, Markers: markers}.SVG()
}

// PNG renders points as a PNG image with the SVG's texts.
func PNG(points []Point, markers ...Marker) ([]byte, error) {
	return Chart{Points: points, Markers: markers}.PNG()
}

func (c Chart) title() string {
	if c.Title == "" {
		return "Canary rollout"
	}
	return c.Title
}

// Colours shared by all renderings.
const (
	canaryColour = "#d62728"
	stableColour = "#1f77b4"
	weightColour = "#9e9e9e"
)

var decisionColours = map[string]string{
	"continue":    "#2ca02c",
	"pause":       "#ff7f0e",
	"paused":      "#ff7f0e",
	"fail":        "#d62728",
	"failed":      "#d62728",
	"rolled-back": "#d62728",
	"aborted":     "#8c564b",
	"promoted":    "#2ca02c",
}

func decisionColour(d string) string {
	if c, ok := decisionColours[d]; ok {
		return c
	}
	return "#555555"
}

// metric picks one panel's pair of series out of a point, in display units.
type metric struct {
	name, unit string
	floor      float64 // smallest axis maximum, so that a flat zero still has a scale
	canary     func(Point) float64
	stable     func(Point) float64
	decimals   int
}

var metrics = []metric{
	{name: "Error rate", unit: "%", floor: 1, decimals: 3,
		canary: func(p Point) float64 { return p.CanaryErrorRate * 100 },
		stable: func(p Point) float64 { return p.StableErrorRate * 100 }},
	{name: "p95 latency", unit: "ms", floor: 10, decimals: 1,
		canary: func(p Point) float64 { return p.CanaryP95 * 1000 },
		stable: func(p Point) float64 { return p.StableP95 * 1000 }},
}

func missing(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// axis is a value scale from 0 to max with ticks every step.
type axis struct{ max, step float64 }

// niceAxis covers 0..v with about five ticks on 1-2-2.5-5 steps.
func niceAxis(v, floor float64) axis {
	if missing(v) || v < floor {
		v = floor
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	return axis{max: step * math.Ceil(v/step-1e-9), step: step}
}

// scale returns the axis for metric m over points.
func (m metric) scale(points []Point) axis {
	hi := math.NaN()
	for _, p := range points {
		for _, v := range []float64{m.canary(p), m.stable(p)} {
			if !missing(v) && (math.IsNaN(hi) || v > hi) {
				hi = v
			}
		}
	}
	return niceAxis(hi, m.floor)
}

// labels names the points "s1 10%", made unique when a step has several.
func labels(points []Point) []string {
	out := make([]string, len(points))
	seen := map[string]int{}
	for i, p := range points {
		l := fmt.Sprintf("s%d %d%%", p.Step, p.Weight)
		seen[l]++
		if n := seen[l]; n > 1 {
			l = fmt.Sprintf("%s (%d)", l, n)
		}
		out[i] = l
	}
	return out
}

// markerIndex is the point a marker belongs to: the last of its step, or
// the last point.
func markerIndex(points []Point, m Marker) int {
	idx := len(points) - 1
	if m.Step > 0 {
		for i, p := range points {
			if p.Step == m.Step {
				idx = i
			}
		}
	}
	return idx
}

func formatNum(v float64, decimals int) string {
	p := math.Pow(10, float64(decimals))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}
