package chart

import (
	"fmt"
	"image"
	"image/color"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// The Go fonts (a sans-serif family, BSD licensed, shipped inside
// golang.org/x/image) draw the PNG's text: no font needs to be installed on
// the runner.
var (
	fontsOnce sync.Once
	fontsErr  error
	regular   *opentype.Font
	bold      *opentype.Font
	facesMu   sync.Mutex
	faces     = map[faceKey]font.Face{}
)

type faceKey struct {
	bold bool
	size float64
}

func loadFonts() error {
	fontsOnce.Do(func() {
		if regular, fontsErr = opentype.Parse(goregular.TTF); fontsErr != nil {
			return
		}
		bold, fontsErr = opentype.Parse(gobold.TTF)
	})
	if fontsErr != nil {
		return fmt.Errorf("chart: load the Go fonts: %w", fontsErr)
	}
	return nil
}

// face is the font at size pixels (72 DPI: a point is a pixel, as in SVG).
func face(isBold bool, size float64) (font.Face, error) {
	if err := loadFonts(); err != nil {
		return nil, err
	}
	facesMu.Lock()
	defer facesMu.Unlock()
	k := faceKey{isBold, size}
	if f, ok := faces[k]; ok {
		return f, nil
	}
	src := regular
	if isBold {
		src = bold
	}
	f, err := opentype.NewFace(src, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("chart: font face: %w", err)
	}
	faces[k] = f
	return f, nil
}

// text draws t anchored as SVG's text-anchor does, Y on the baseline.
func (c canvas) text(t textItem) error {
	f, err := face(t.Bold, t.Size)
	if err != nil {
		return err
	}
	d := &font.Drawer{Dst: c.img, Face: f}
	w := d.MeasureString(t.Text)
	x := fixed.Int26_6(t.X * 64)
	switch t.Anchor {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	y := fixed.Int26_6(t.Y * 64)
	if t.Halo {
		d.Src = image.NewUniform(color.White)
		for _, o := range [][2]fixed.Int26_6{{-64, 0}, {64, 0}, {0, -64}, {0, 64}, {-64, -64}, {64, 64}, {-64, 64}, {64, -64}} {
			d.Dot = fixed.Point26_6{X: x + o[0], Y: y + o[1]}
			d.DrawString(t.Text)
		}
	}
	d.Src = image.NewUniform(hexColour(t.Colour))
	d.Dot = fixed.Point26_6{X: x, Y: y}
	d.DrawString(t.Text)
	return nil
}
