package chart

import (
	"fmt"
	"strconv"
	"strings"
)

// Mermaid renders the chart as Markdown: one ```mermaid xychart-beta block
// per metric, with a note under each on gaps, and the decisions as a list.
//
// xychart has neither gaps nor legends, so points where both series lack
// data are dropped, a single missing value is interpolated (and noted), and
// the title names the line colours.
func (c Chart) Mermaid() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", c.title())
	if len(c.Points) == 0 {
		b.WriteString("_No data._\n")
		return b.String()
	}
	names := labels(c.Points)
	for _, m := range metrics {
		writeMermaidChart(&b, m, c.Points, names)
	}
	if len(c.Markers) > 0 {
		b.WriteString("Decisions:\n")
		for _, mk := range c.Markers {
			at := names[markerIndex(c.Points, mk)]
			fmt.Fprintf(&b, "- %s: %s", at, mk.Decision)
			if mk.Label != "" {
				fmt.Fprintf(&b, " — %s", mk.Label)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func writeMermaidChart(b *strings.Builder, m metric, points []Point, names []string) {
	var keep []int
	for i, p := range points {
		if !missing(m.canary(p)) || !missing(m.stable(p)) {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		fmt.Fprintf(b, "_No %s data._\n\n", m.name)
		return
	}
	kept := make([]Point, len(keep))
	cats := make([]string, len(keep))
	for j, i := range keep {
		kept[j], cats[j] = points[i], strconv.Quote(names[i])
	}

	type series struct {
		name, colour string
		values       []float64
	}
	var lines []series
	var notes []string
	for _, s := range []struct {
		name, colour string
		value        func(Point) float64
	}{{"canary", canaryColour, m.canary}, {"stable", stableColour, m.stable}} {
		vals, filled, ok := fill(kept, s.value)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: no data", s.name))
			continue
		}
		if len(filled) > 0 {
			var at []string
			for _, j := range filled {
				at = append(at, names[keep[j]])
			}
			notes = append(notes, fmt.Sprintf("%s: no data at %s (interpolated)", s.name, strings.Join(at, ", ")))
		}
		lines = append(lines, series{s.name, s.colour, vals})
	}
	if dropped := len(points) - len(keep); dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d point(s) without any data left out", dropped))
	}

	var palette, legend []string
	for _, l := range lines {
		palette = append(palette, l.colour)
		legend = append(legend, fmt.Sprintf("%s %s", l.name, map[string]string{canaryColour: "red", stableColour: "blue"}[l.colour]))
	}
	ax := m.scale(kept)
	b.WriteString("```mermaid\n")
	// The palette colours the lines in order, matching the title's legend.
	fmt.Fprintf(b, "%%%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"%s\"}}}}%%%%\n", strings.Join(palette, ", "))
	b.WriteString("xychart-beta\n")
	fmt.Fprintf(b, "    title \"%s (%s): %s\"\n", m.name, m.unit, strings.Join(legend, ", "))
	fmt.Fprintf(b, "    x-axis [%s]\n", strings.Join(cats, ", "))
	fmt.Fprintf(b, "    y-axis \"%s\" 0 --> %s\n", m.unit, formatNum(ax.max, 3))
	for _, l := range lines {
		vs := make([]string, len(l.values))
		for i, v := range l.values {
			vs[i] = formatNum(v, m.decimals)
		}
		fmt.Fprintf(b, "    line [%s]\n", strings.Join(vs, ", "))
	}
	b.WriteString("```\n")
	if len(notes) > 0 {
		fmt.Fprintf(b, "\n_%s: %s._\n", m.name, strings.Join(notes, "; "))
	}
	b.WriteString("\n")
}

// fill returns the series with gaps interpolated linearly (held flat at the
// ends), the indexes it filled, and false if there is no value at all.
func fill(points []Point, value func(Point) float64) ([]float64, []int, bool) {
	vals := make([]float64, len(points))
	var known []int
	for i, p := range points {
		vals[i] = value(p)
		if !missing(vals[i]) {
			known = append(known, i)
		}
	}
	if len(known) == 0 {
		return nil, nil, false
	}
	var filled []int
	k := 0 // index into known of the next known point at or after i
	for i := range vals {
		for k < len(known) && known[k] < i {
			k++
		}
		if k < len(known) && known[k] == i {
			continue
		}
		filled = append(filled, i)
		switch {
		case k == 0:
			vals[i] = vals[known[0]]
		case k == len(known):
			vals[i] = vals[known[len(known)-1]]
		default:
			a, z := known[k-1], known[k]
			vals[i] = vals[a] + (vals[z]-vals[a])*float64(i-a)/float64(z-a)
		}
	}
	return vals, filled, true
}
