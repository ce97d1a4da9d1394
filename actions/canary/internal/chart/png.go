package chart

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"
)

// PNG draws the chart like SVG does, with the same texts (in the Go fonts).
func (c Chart) PNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	cv := canvas{img}

	canary, stable, weight := hexColour(canaryColour), hexColour(stableColour), hexColour(weightColour)
	// Legend swatches, where the SVG has its legend.
	cv.thickLine(plotLeft, legendY, plotLeft+20, legendY, canary)
	cv.thickLine(plotLeft+90, legendY, plotLeft+110, legendY, stable)
	cv.rect(plotLeft+180, legendY-6, plotLeft+200, legendY+6, tint(weight))

	if len(c.Points) > 0 {
		l := newLayout(c.Points)
		for pi, m := range metrics {
			top, bottom := int(panelTop(pi)), int(panelBottom(pi))
			for i, p := range c.Points {
				x0, x1 := l.band(i)
				cv.rect(round(x0), round(l.yWeight(pi, p.Weight)), round(x1), bottom, tint(weight))
			}
			for _, t := range l.ticks(pi) {
				y := round(l.y(pi, t))
				cv.line(plotLeft, y, plotRight, y, color.RGBA{0xe0, 0xe0, 0xe0, 0xff})
				cv.line(plotLeft-4, y, plotLeft, y, color.RGBA{0x9e, 0x9e, 0x9e, 0xff})
			}
			cv.frame(plotLeft, top, plotRight, bottom, color.RGBA{0x9e, 0x9e, 0x9e, 0xff})
			for i := range c.Points {
				x := round(l.x(i))
				cv.line(x, bottom, x, bottom+4, color.RGBA{0x9e, 0x9e, 0x9e, 0xff})
			}
			for _, s := range []struct {
				colour color.RGBA
				value  func(Point) float64
			}{{stable, m.stable}, {canary, m.canary}} {
				for _, run := range runs(c.Points, s.value) {
					for k, i := range run {
						x, y := round(l.x(i)), round(l.y(pi, s.value(c.Points[i])))
						cv.dot(x, y, s.colour)
						if k > 0 {
							j := run[k-1]
							cv.thickLine(round(l.x(j)), round(l.y(pi, s.value(c.Points[j]))), x, y, s.colour)
						}
					}
				}
			}
		}
		for _, mk := range c.Markers {
			_, x := l.band(markerIndex(c.Points, mk))
			col := hexColour(decisionColour(mk.Decision))
			for y := int(panelTop(0)); y < int(panelBottom(len(metrics)-1)); y += 7 {
				cv.line(round(x), y, round(x), y+3, col) // dashed
			}
		}
	}
	// Text last, over the data, as in the SVG.
	for _, t := range c.svgView().texts() {
		if err := cv.text(t); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("chart: encode PNG: %w", err)
	}
	return b.Bytes(), nil
}

type canvas struct{ img *image.RGBA }

// line is Bresenham's, one pixel wide.
func (c canvas) line(x0, y0, x1, y1 int, col color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.img.SetRGBA(x0, y0, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

// thickLine is two pixels wide, like the SVG's stroke.
func (c canvas) thickLine(x0, y0, x1, y1 int, col color.RGBA) {
	c.line(x0, y0, x1, y1, col)
	if abs(x1-x0) >= abs(y1-y0) {
		c.line(x0, y0+1, x1, y1+1, col)
	} else {
		c.line(x0+1, y0, x1+1, y1, col)
	}
}

// rect fills [x0,x1)×[y0,y1).
func (c canvas) rect(x0, y0, x1, y1 int, col color.RGBA) {
	draw.Draw(c.img, image.Rect(x0, y0, x1, y1), image.NewUniform(col), image.Point{}, draw.Src)
}

// dot is a filled circle of radius 2.5, like the SVG's.
func (c canvas) dot(x, y int, col color.RGBA) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			if dx*dx+dy*dy <= 6 {
				c.img.SetRGBA(x+dx, y+dy, col)
			}
		}
	}
}

func (c canvas) frame(x0, y0, x1, y1 int, col color.RGBA) {
	c.line(x0, y0, x1, y0, col)
	c.line(x1, y0, x1, y1, col)
	c.line(x1, y1, x0, y1, col)
	c.line(x0, y1, x0, y0, col)
}

// hexColour parses "#rrggbb" (our own constants).
func hexColour(s string) color.RGBA {
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil || len(s) != 7 {
		panic("chart: bad colour " + s)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

// tint is col at a quarter strength over white, as the SVG's fill-opacity.
func tint(col color.RGBA) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(255 - (255-int(v))/4) }
	return color.RGBA{mix(col.R), mix(col.G), mix(col.B), 0xff}
}

func round(v float64) int { return int(math.Round(v)) }

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
