package chart

import "fmt"

// textItem is one piece of text on the chart. The SVG and the PNG both draw
// exactly these, so the two files always carry the same labels.
type textItem struct {
	Class  string
	X, Y   float64 // Y is the baseline
	Text   string
	Anchor string // start, middle or end
	Size   float64
	Bold   bool
	Colour string
	// Halo paints a white outline first, so that text over a line stays
	// readable (marker labels sit inside the plot).
	Halo bool
}

const (
	textColour = "#212121"
	mutedText  = "#616161"
	xAxisName  = "step and canary weight"
)

// texts lists every text of the view: title, legend, panel titles (the
// value axes' names), tick values of both axes, the x axis name and marker
// labels.
func (v svgView) texts() []textItem {
	item := func(class string, x, y float64, s, anchor string, size float64, bold bool, colour string) textItem {
		return textItem{Class: class, X: x, Y: y, Text: s, Anchor: anchor, Size: size, Bold: bold, Colour: colour}
	}
	out := []textItem{
		item("title", float64(v.Width)/2, 26, v.Title, "middle", 16, true, textColour),
		item("legend", v.PlotLeft+26, v.LegendY+4, "canary", "start", 11, false, textColour),
		item("legend", v.PlotLeft+116, v.LegendY+4, "stable", "start", 11, false, textColour),
		item("legend", v.PlotLeft+206, v.LegendY+4, "canary weight (right axis)", "start", 11, false, textColour),
	}
	if v.Empty {
		return append(out, item("no-data", float64(v.Width)/2, float64(v.Height)/2, "no data", "middle", 11, false, mutedText))
	}
	for _, p := range v.Panels {
		out = append(out, item("axis-name", v.PlotLeft, p.TitleY, p.Title, "start", 13, true, textColour))
		for _, t := range p.YTicks {
			out = append(out, item("tick", v.PlotLeft-6, t.Pos+4, t.Label, "end", 11, false, textColour))
		}
		for _, t := range p.WeightTicks {
			out = append(out, item("tick weight", v.PlotRight+6, t.Pos+4, t.Label, "start", 11, false, mutedText))
		}
		for _, t := range p.XLabels {
			out = append(out, item("tick x", t.Pos, p.XLabelY, t.Label, "middle", 11, false, textColour))
		}
	}
	if n := len(v.Panels); n > 0 {
		out = append(out, item("axis-name x", (v.PlotLeft+v.PlotRight)/2, v.Panels[n-1].XLabelY+20, xAxisName, "middle", 11, false, mutedText))
	}
	for _, m := range v.Markers {
		t := item("marker", m.X-4, m.TextY, m.Label, "end", 11, false, m.Colour)
		t.Halo = true
		out = append(out, t)
	}
	return out
}

func (t textItem) fontWeight() string {
	if t.Bold {
		return "bold"
	}
	return "normal"
}

func (t textItem) String() string { return fmt.Sprintf("%s@%.0f,%.0f", t.Text, t.X, t.Y) }
