package chart

import (
	"bytes"
	"encoding/xml"
	"flag"

	"fmt"
	"golang.org/x/image/font"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var nan = math.NaN()

// rollout is four steps; the stable has no latency data at step 3 and the
// canary no error data at step 2.
func rollout() ([]Point, []Marker) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	pts := []Point{
		{Time: t0, Step: 1, Weight: 10, CanaryErrorRate: 0.002, StableErrorRate: 0.001, CanaryP95: 0.120, StableP95: 0.110},
		{Time: t0.Add(5 * time.Minute), Step: 2, Weight: 25, CanaryErrorRate: nan, StableErrorRate: 0.0015, CanaryP95: 0.140, StableP95: 0.115},
		{Time: t0.Add(10 * time.Minute), Step: 3, Weight: 50, CanaryErrorRate: 0.004, StableErrorRate: 0.001, CanaryP95: 0.180, StableP95: nan},
		{Time: t0.Add(15 * time.Minute), Step: 4, Weight: 75, CanaryErrorRate: 0.012, StableErrorRate: 0.0012, CanaryP95: 0.350, StableP95: 0.120},
	}
	marks := []Marker{
		{Step: 2, Decision: "pause", Label: "no canary error data"},
		{Step: 4, Decision: "rolled-back", Label: "error rate 1.2% > 1%"},
	}
	return pts, marks
}

func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	return want
}

func TestNiceAxis(t *testing.T) {
	for _, tc := range []struct{ v, floor, max, step float64 }{
		{1.2, 1, 1.25, 0.25}, // 1.2/5 = 0.24 → steps of 0.25
		{350, 10, 400, 100},
		{0, 1, 1, 0.2},
		{nan, 10, 10, 2},
		{7, 1, 8, 2},
		{0.5, 1, 1, 0.2}, // below the floor
	} {
		a := niceAxis(tc.v, tc.floor)
		if math.Abs(a.max-tc.max) > 1e-9 || math.Abs(a.step-tc.step) > 1e-9 {
			t.Errorf("niceAxis(%v, %v) = %+v, want max %v step %v", tc.v, tc.floor, a, tc.max, tc.step)
		}
	}
}

// svgDoc is the part of the SVG the test reads back.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Width   int      `xml:"width,attr"`
	Height  int      `xml:"height,attr"`
	Title   string   `xml:"title"`
	Groups  []struct {
		Class     string `xml:"class,attr"`
		ID        string `xml:"id,attr"`
		Polylines []struct {
			Class  string `xml:"class,attr"`
			Points string `xml:"points,attr"`
			Stroke string `xml:"stroke,attr"`
		} `xml:"polyline"`
		Polygons []struct {
			Points string `xml:"points,attr"`
		} `xml:"polygon"`
		Texts []string `xml:"text"`
	} `xml:"g"`
}

func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	var doc svgDoc
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("SVG is not XML: %v", err)
	}
	// Everything, not just the part decoded into doc, must be well formed.
	d = xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	return doc
}

// Pixel positions, worked out by hand from the layout: four points over
// plotWidth 670 from plotLeft 70 are 167.5 apart, centred in their bands.
// Panel 0 spans y 90..290; the error axis runs to 1.25 % (max 1.2 %).
// Panel 1 spans y 350..550; the latency axis to 400 ms (max 350 ms).
func xAt(i int) float64 { return 70 + 167.5*(float64(i)+0.5) }

func TestSVG(t *testing.T) {
	pts, marks := rollout()
	got := SVG(pts, marks...)
	doc := parseSVG(t, got)
	if doc.Width != 800 || doc.Height != 600 || doc.Title != "Canary rollout" {
		t.Errorf("svg %dx%d %q", doc.Width, doc.Height, doc.Title)
	}
	lines := map[string][]string{}
	var weight []string
	for _, g := range doc.Groups {
		for _, p := range g.Polylines {
			lines[g.ID+" "+p.Class] = append(lines[g.ID+" "+p.Class], p.Points)
		}
		for _, p := range g.Polygons {
			weight = append(weight, p.Points)
		}
	}
	// The canary's error rate has a gap at step 2: two runs.
	canaryErr := lines["panel-0 canary error-rate"]
	if len(canaryErr) != 2 {
		t.Fatalf("canary error-rate polylines = %q, want 2 (gap at step 2)", canaryErr)
	}
	// 0.2 % of 1.25 % is 16 % of 200 px: y = 290 - 32 = 258.
	if want := fmt.Sprintf("%.1f,%.1f", xAt(0), 258.0); canaryErr[0] != want {
		t.Errorf("first canary run = %q, want %q", canaryErr[0], want)
	}
	// 0.4 % → y = 290 - 64 = 226; 1.2 % → 290 - 192 = 98.
	if want := fmt.Sprintf("%.1f,226.0 %.1f,98.0", xAt(2), xAt(3)); canaryErr[1] != want {
		t.Errorf("second canary run = %q, want %q", canaryErr[1], want)
	}
	if n := len(lines["panel-0 stable error-rate"]); n != 1 {
		t.Errorf("stable error-rate polylines = %d, want 1", n)
	}
	// Latency: stable has a gap at step 3; 110 ms of 400 → y = 550 - 55 = 495.
	stableLat := lines["panel-1 stable p95-latency"]
	if len(stableLat) != 2 || !strings.HasPrefix(stableLat[0], fmt.Sprintf("%.1f,495.0 ", xAt(0))) {
		t.Errorf("stable latency polylines = %q", stableLat)
	}
	// 350 ms of 400 → y = 550 - 175 = 375.
	if cl := lines["panel-1 canary p95-latency"]; len(cl) != 1 || !strings.HasSuffix(cl[0], fmt.Sprintf(" %.1f,375.0", xAt(3))) {
		t.Errorf("canary latency polylines = %q", cl)
	}
	// Weight steps: 25 % of the second band in the upper panel is y 240.
	if len(weight) != 2 || !strings.Contains(weight[0], "237.5,240.0 405.0,240.0") {
		t.Errorf("weight polygons = %q", weight)
	}
	svg := string(got)
	for _, want := range []string{"s1 10%", "s4 75%", "rolled-back: error rate 1.2% &gt; 1%", "1.25%", "400ms", "canary", "stable"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if want := golden(t, "rollout.svg", got); !bytes.Equal(got, want) {
		t.Errorf("SVG differs from testdata/rollout.svg (run go test -update and review the diff)")
	}
}

func TestSVGEdgeCases(t *testing.T) {
	doc := parseSVG(t, SVG(nil))
	if len(doc.Groups) == 0 || !strings.Contains(string(SVG(nil)), "no data") {
		t.Errorf("empty chart: %+v", doc)
	}
	// One point, all NaN, hostile labels: still valid XML, no lines.
	one := []Point{{Step: 1, Weight: 5, CanaryErrorRate: nan, StableErrorRate: nan, CanaryP95: nan, StableP95: math.Inf(1)}}
	got := Chart{Title: `A <b>"&"</b>`, Points: one, Markers: []Marker{{Decision: "aborted", Label: "<script>"}}}.SVG()
	doc = parseSVG(t, got)
	if doc.Title != `A <b>"&"</b>` {
		t.Errorf("title = %q", doc.Title)
	}
	for _, g := range doc.Groups {
		if len(g.Polylines) != 0 {
			t.Errorf("polylines without data: %+v", g.Polylines)
		}
	}
}

func TestMermaid(t *testing.T) {
	pts, marks := rollout()
	got := Mermaid(pts, marks...)
	for _, want := range []string{
		"```mermaid\n%%{init:",
		"xychart-beta\n",
		`x-axis ["s1 10%", "s2 25%", "s3 50%", "s4 75%"]`,
		`y-axis "%" 0 --> 1.25`,
		// 0.3 % interpolated between 0.2 and 0.4 at step 2.
		"line [0.2, 0.3, 0.4, 1.2]",
		"line [0.1, 0.15, 0.1, 0.12]",
		`y-axis "ms" 0 --> 400`,
		"line [120, 140, 180, 350]",
		"line [110, 115, 117.5, 120]",
		"canary: no data at s2 25% (interpolated)",
		"- s4 75%: rolled-back — error rate 1.2% > 1%",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Mermaid lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "```mermaid"); n != 2 {
		t.Errorf("%d mermaid blocks, want 2", n)
	}
	if want := golden(t, "rollout.md", []byte(got)); got != string(want) {
		t.Errorf("Mermaid differs from testdata/rollout.md (run go test -update and review the diff)")
	}
}

func TestMermaidMissingData(t *testing.T) {
	pts := []Point{
		{Step: 1, Weight: 10, CanaryErrorRate: nan, StableErrorRate: nan, CanaryP95: nan, StableP95: nan},
		{Step: 1, Weight: 10, CanaryErrorRate: 0.01, StableErrorRate: nan, CanaryP95: nan, StableP95: nan},
		{Step: 1, Weight: 10, CanaryErrorRate: 0.02, StableErrorRate: nan, CanaryP95: nan, StableP95: nan},
	}
	got := Mermaid(pts)
	// The first point has no data at all and goes; repeated labels are made
	// unique because Mermaid merges equal categories.
	if !strings.Contains(got, `x-axis ["s1 10% (2)", "s1 10% (3)"]`) || !strings.Contains(got, "line [1, 2]") {
		t.Errorf("error chart:\n%s", got)
	}
	// Only the canary line: the palette starts with its colour.
	if !strings.Contains(got, `"plotColorPalette": "`+canaryColour+`"`) || !strings.Contains(got, "stable: no data") {
		t.Errorf("palette/notes:\n%s", got)
	}
	if !strings.Contains(got, "_No p95 latency data._") || strings.Count(got, "```mermaid") != 1 {
		t.Errorf("latency without data:\n%s", got)
	}
	if Mermaid(nil) == "" || strings.Contains(Mermaid(nil), "```") {
		t.Errorf("empty: %q", Mermaid(nil))
	}
}

func TestPNG(t *testing.T) {
	pts, marks := rollout()
	data, err := PNG(pts, marks...)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 600 {
		t.Fatalf("size %v", b)
	}
	canary := color.RGBA{0xd6, 0x27, 0x28, 0xff}
	near := func(x, y float64) bool {
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				if color.RGBAModel.Convert(img.At(round(x)+dx, round(y)+dy)) == canary {
					return true
				}
			}
		}
		return false
	}
	// Where the data are, as in TestSVG.
	for _, p := range []struct{ x, y float64 }{{xAt(0), 258}, {xAt(2), 226}, {xAt(3), 98}, {xAt(3), 375}, {xAt(0), 550 - 60}} {
		if !near(p.x, p.y) {
			t.Errorf("no canary pixel near (%.1f, %.1f)", p.x, p.y)
		}
	}
	// The gap at step 2 stays empty: no canary pixel anywhere in the column
	// halfway between points 0 and 1 of the error-rate panel.
	mid := round((xAt(0) + xAt(1)) / 2)
	for y := 90; y <= 290; y++ {
		if color.RGBAModel.Convert(img.At(mid, y)) == canary {
			t.Errorf("canary pixel at (%d, %d) inside the error-rate gap", mid, y)
			break
		}
	}
	// And the line does join points 2 and 3: check its midpoint.
	if !near((xAt(2)+xAt(3))/2, (226+98)/2) {
		t.Error("no canary line between steps 3 and 4")
	}
	want := golden(t, "rollout.png", data)
	wimg, err := png.Decode(bytes.NewReader(want))
	if err != nil {
		t.Fatalf("golden PNG: %v", err)
	}
	if !samePixels(img, wimg) {
		t.Errorf("PNG differs from testdata/rollout.png (run go test -update and review it)")
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if color.RGBAModel.Convert(a.At(x, y)) != color.RGBAModel.Convert(b.At(x, y)) {
				return false
			}
		}
	}
	return true
}

func TestPNGEmpty(t *testing.T) {
	data, err := PNG(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// The PNG carries the SVG's texts: every text of the SVG is in the list the
// PNG draws, and each is drawn where it belongs (ink of its colour inside
// its measured box, none of it there in a chart drawn without texts).
func TestPNGHasTheSVGsTexts(t *testing.T) {
	pts, marks := rollout()
	c := Chart{Points: pts, Markers: marks}
	var doc struct {
		Labels []struct {
			Class string `xml:"class,attr"`
			Texts []struct {
				Class string `xml:"class,attr"`
				Text  string `xml:",chardata"`
			} `xml:"text"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal(c.SVG(), &doc); err != nil {
		t.Fatal(err)
	}
	var svgTexts []string
	for _, g := range doc.Labels {
		for _, tx := range g.Texts {
			svgTexts = append(svgTexts, tx.Text)
		}
	}
	items := c.svgView().texts()
	var drawn []string
	for _, it := range items {
		drawn = append(drawn, it.Text)
	}
	if strings.Join(svgTexts, "|") != strings.Join(drawn, "|") {
		t.Fatalf("SVG texts %q\nPNG texts %q", svgTexts, drawn)
	}
	for _, want := range []string{"Canary rollout", "canary", "stable", "canary weight (right axis)", "Error rate (%)", "p95 latency (ms)",
		"1.25%", "0%", "400ms", "100%", "50%", "s1 10%", "s4 75%", xAxisName, "rolled-back: error rate 1.2% > 1%"} {
		if !strings.Contains("|"+strings.Join(drawn, "|")+"|", "|"+want+"|") {
			t.Errorf("no text %q", want)
		}
	}
	data, err := c.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		f, err := face(it.Bold, it.Size)
		if err != nil {
			t.Fatal(err)
		}
		box, adv := font.BoundString(f, it.Text)
		x := it.X
		switch it.Anchor {
		case "middle":
			x -= float64(adv) / 128
		case "end":
			x -= float64(adv) / 64
		}
		want := hexColour(it.Colour)
		ink := 0
		for y := round(it.Y) + box.Min.Y.Floor(); y <= round(it.Y)+box.Max.Y.Ceil(); y++ {
			for px := round(x) + box.Min.X.Floor(); px <= round(x)+box.Max.X.Ceil(); px++ {
				if inkOf(img.At(px, y), want) >= 0.6 {
					ink++
				}
			}
		}
		// Anti-aliased, but every character has some pixels mostly of its colour.
		if ink < 2*len([]rune(it.Text)) {
			t.Errorf("text %q (%s at %.0f,%.0f): %d pixels of %s", it.Text, it.Class, it.X, it.Y, ink, it.Colour)
		}
	}
}

// inkOf is how far a pixel is from white towards col (0 white, 1 col),
// or 0 when it is another colour (a line, the weight band).
func inkOf(c color.Color, col color.RGBA) float64 {
	r, g, b, _ := c.RGBA()
	px := [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
	to := [3]float64{float64(col.R), float64(col.G), float64(col.B)}
	var dot, norm float64
	for i := range px {
		dot += (px[i] - 255) * (to[i] - 255)
		norm += (to[i] - 255) * (to[i] - 255)
	}
	k := dot / norm
	var off float64
	for i := range px {
		d := px[i] - (255 + k*(to[i]-255))
		off += d * d
	}
	if math.Sqrt(off) > 40 {
		return 0
	}
	return k
}
