package viz

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one measurement: X is the training step (or evaluation step), Y
// the value.
type Point struct{ X, Y float64 }

// Series is one named curve. Points need not be sorted or contiguous: a
// loss kind that is trained in alternating phases has its points broken at
// the phase boundaries, and no line is drawn across the gaps.
type Series struct {
	Name   string
	Points []Point
}

// PhaseMark marks where a training phase begins.
type PhaseMark struct {
	Step  float64
	Label string
}

// CurvesView is what the training-curves picture shows: the loss per step on
// top and the validation accuracy per evaluation below, on the same step
// axis, with the phase boundaries across both.
type CurvesView struct {
	Title string
	// Loss has one series per phase kind (scale fine-tuning, APN
	// pre-training, classification, ranking).
	Loss []Series
	// Acc has one series per scale and one for the fused prediction; a
	// series whose name contains "fused" is drawn in black, the others in
	// the scale colours (Scale1Color, ScaleColors) in order. Accuracies may
	// be fractions (0..1) or percentages (0..100).
	Acc    []Series
	Phases []PhaseMark
	// XLabel names the step axis; "step" when empty.
	XLabel string
	// Smooth, in [0, 1), is the weight of an exponential moving average
	// drawn over the raw loss (which is then drawn faintly); 0 draws the raw
	// loss only.
	Smooth float64
	// Width and Height are the picture's size in pixels; 1280×960 when 0.
	Width, Height int
}

const (
	curvesDPI    = 96
	defaultCurvW = 1280
	defaultCurvH = 960
)

// lossColors are the colours of the loss kinds, in order (Dark2).
var lossColors = []color.RGBA{
	{R: 27, G: 158, B: 119, A: 255},
	{R: 217, G: 95, B: 2, A: 255},
	{R: 117, G: 112, B: 179, A: 255},
	{R: 231, G: 41, B: 138, A: 255},
	{R: 102, G: 166, B: 30, A: 255},
	{R: 166, G: 118, B: 29, A: 255},
}

var (
	fusedColor = color.RGBA{R: 20, G: 20, B: 20, A: 255}
	phaseColor = color.RGBA{R: 120, G: 120, B: 130, A: 255}
	gridColor  = color.RGBA{R: 228, G: 228, B: 232, A: 255}
)

// Curves draws the training curves of a run (see CurvesView) and writes
// them to path as a PNG, atomically.
func Curves(loss, acc []Series, phases []PhaseMark, path string) error {
	return CurvesPNG(CurvesView{Loss: loss, Acc: acc, Phases: phases}, path)
}

// CurvesPNG draws v and writes it to path as a PNG, atomically.
func CurvesPNG(v CurvesView, path string) error {
	img, err := CurvesImage(v)
	if err != nil {
		return err
	}
	return WritePNG(path, img)
}

// CurvesImage draws v. When one of Loss and Acc has no finite points only
// the other plot is drawn; when both have none it is an error. Points with a
// NaN or infinite coordinate are left out.
func CurvesImage(v CurvesView) (image.Image, error) {
	if v.Smooth < 0 || v.Smooth >= 1 || math.IsNaN(v.Smooth) {
		return nil, fmt.Errorf("viz: curves: smoothing %v is not in [0, 1)", v.Smooth)
	}
	w, h := v.Width, v.Height
	if w == 0 {
		w = defaultCurvW
	}
	if h == 0 {
		h = defaultCurvH
	}
	if w < 200 || h < 150 || w > 10000 || h > 10000 {
		return nil, fmt.Errorf("viz: curves: size %d×%d is not between 200×150 and 10000×10000", w, h)
	}
	loss := cleanSeries(v.Loss)
	acc := cleanSeries(v.Acc)
	if len(loss) == 0 && len(acc) == 0 {
		return nil, errors.New("viz: curves: nothing to plot: no loss or accuracy series has a finite point")
	}
	xlabel := v.XLabel
	if xlabel == "" {
		xlabel = "step"
	}

	// One step range for both plots, so that they line up.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, s := range slices.Concat(loss, acc) {
		for _, p := range s.Points {
			xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
		}
	}
	// A phase that starts before the first point (step 0, typically) is
	// shown from its start.
	for _, m := range v.Phases {
		if !math.IsNaN(m.Step) && !math.IsInf(m.Step, 0) && m.Step < xmin {
			xmin = m.Step
		}
	}
	if xmin == xmax {
		xmin, xmax = xmin-1, xmax+1
	}
	pad := (xmax - xmin) * 0.01
	xmin, xmax = xmin-pad, xmax+pad

	// A phase named like a loss series is shaded in that series' colour.
	colors := map[string]color.RGBA{}
	for i, s := range loss {
		if s.Name != "" {
			colors[strings.ToLower(s.Name)] = lossColors[i%len(lossColors)]
		}
	}

	type panel struct {
		p   *plot.Plot
		leg plot.Legend
	}
	var panels []panel
	if len(loss) > 0 {
		p, leg, err := lossPlot(loss, &phaseLines{marks: v.Phases, colors: colors, labels: true}, v.Smooth)
		if err != nil {
			return nil, err
		}
		panels = append(panels, panel{p, leg})
	}
	if len(acc) > 0 {
		p, leg, err := accPlot(acc, &phaseLines{marks: v.Phases, colors: colors, labels: len(loss) == 0})
		if err != nil {
			return nil, err
		}
		panels = append(panels, panel{p, leg})
	}
	for i, pn := range panels {
		pn.p.X.Min, pn.p.X.Max = xmin, xmax
		if i == len(panels)-1 {
			pn.p.X.Label.Text = xlabel
		}
	}

	canvas := vgimg.NewWith(
		vgimg.UseWH(pxLen(w), pxLen(h)),
		vgimg.UseDPI(curvesDPI),
		vgimg.UseBackgroundColor(color.White),
	)
	dc := draw.New(canvas)
	dc = draw.Crop(dc, pxLen(16), -pxLen(16), pxLen(12), -pxLen(16))
	if v.Title != "" {
		sty := textStyle(17, true)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, v.Title)
		dc = draw.Crop(dc, 0, 0, 0, -sty.Height(v.Title)-pxLen(10))
	}

	// The legends go in a column right of the plots, where they hide no
	// curve; it is as wide as the widest legend.
	legW := vg.Length(0)
	for _, pn := range panels {
		legW = max(legW, legendWidth(pn.leg))
	}
	legW += pxLen(24)
	plots := draw.Crop(dc, 0, -legW, 0, 0)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: pxLen(24)}
	grid := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		grid[i] = []*plot.Plot{pn.p}
	}
	cs := plot.Align(grid, tiles, plots)
	for i, pn := range panels {
		pn.p.Draw(cs[i][0])
		da := pn.p.DataCanvas(cs[i][0])
		lc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: dc.Max.X - legW + pxLen(20), Y: da.Min.Y},
			Max: vg.Point{X: dc.Max.X, Y: da.Max.Y},
		}}
		pn.leg.Draw(lc)
	}
	return canvas.Image(), nil
}

// pxLen is n pixels as a vg.Length at curvesDPI.
func pxLen(n int) vg.Length { return vg.Length(n) * vg.Inch / curvesDPI }

// textStyle is a sans-serif text style of size points.
func textStyle(size vg.Length, bold bool) draw.TextStyle {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return draw.TextStyle{Color: textColor, Font: f, Handler: plot.DefaultTextHandler}
}

// cleanSeries drops the points with a NaN or infinite coordinate and the
// series left with none, and sorts each series by X.
func cleanSeries(in []Series) []Series {
	var out []Series
	for _, s := range in {
		var pts []Point
		for _, p := range s.Points {
			if !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) {
				pts = append(pts, p)
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortStableFunc(pts, func(a, b Point) int { return cmp.Compare(a.X, b.X) })
		out = append(out, Series{Name: s.Name, Points: pts})
	}
	return out
}

// segments splits pts (sorted by X) where a phase boundary lies between two
// consecutive points, or where the gap is much larger than usual, so that
// no line is drawn across another phase.
func segments(pts []Point, phases []PhaseMark) [][]Point {
	var out [][]Point
	start := 0
	for i := 1; i < len(pts); i++ {
		split := false
		for _, m := range phases {
			if pts[i-1].X < m.Step && m.Step <= pts[i].X {
				split = true
				break
			}
		}
		if split {
			out = append(out, pts[start:i])
			start = i
		}
	}
	return append(out, pts[start:])
}

// ema is the exponential moving average of pts with weight a on the past,
// bias-corrected so that it starts at the first value.
func ema(pts []Point, a float64) []Point {
	out := make([]Point, len(pts))
	m, wsum := 0.0, 0.0
	for i, p := range pts {
		m = a*m + (1-a)*p.Y
		wsum = a*wsum + (1 - a)
		out[i] = Point{p.X, m / wsum}
	}
	return out
}

func xys(pts []Point) plotter.XYs {
	out := make(plotter.XYs, len(pts))
	for i, p := range pts {
		out[i].X, out[i].Y = p.X, p.Y
	}
	return out
}

// newPlot is a plot in the house style: sans-serif, light grid, no title.
func newPlot(ylabel string) *plot.Plot {
	p := plot.New()
	p.Y.Label.Text = ylabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = textStyle(13, false).Font
		ax.Label.TextStyle.Color = textColor
		ax.Tick.Label.Font = textStyle(11, false).Font
		ax.Tick.Label.Color = color.RGBA{R: 70, G: 70, B: 80, A: 255}
		ax.Tick.Color = color.RGBA{R: 110, G: 110, B: 120, A: 255}
		ax.Color = ax.Tick.Color
	}
	p.X.Label.Padding = pxLen(4)
	p.Y.Label.Padding = pxLen(6)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	g.Vertical.Width, g.Horizontal.Width = vg.Points(0.6), vg.Points(0.6)
	p.Add(g)
	return p
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle = textStyle(12, false)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = pxLen(28)
	l.Padding = pxLen(6)
	return l
}

func legendWidth(l plot.Legend) vg.Length {
	c := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: 1000, Y: 1000}}}
	r := l.Rectangle(c)
	return r.Max.X - r.Min.X
}

func lossPlot(loss []Series, phases *phaseLines, smooth float64) (*plot.Plot, plot.Legend, error) {
	p := newPlot("loss")
	p.Add(phases)
	leg := newLegend()
	ymax := 0.0
	ymin := 0.0
	for i, s := range loss {
		c := lossColors[i%len(lossColors)]
		var thumb plot.Thumbnailer
		for _, seg := range segments(s.Points, phases.marks) {
			for _, q := range seg {
				ymax, ymin = math.Max(ymax, q.Y), math.Min(ymin, q.Y)
			}
			if smooth > 0 {
				raw, err := plotter.NewLine(xys(seg))
				if err != nil {
					return nil, leg, fmt.Errorf("viz: curves: %s: %w", s.Name, err)
				}
				raw.Color, raw.Width = tint(c, 0.35), vg.Points(0.8)
				p.Add(raw)
				seg = ema(seg, smooth)
			}
			l, err := plotter.NewLine(xys(seg))
			if err != nil {
				return nil, leg, fmt.Errorf("viz: curves: %s: %w", s.Name, err)
			}
			l.Color, l.Width = c, vg.Points(1.4)
			if len(seg) == 1 { // a single point has no line: mark it
				sc, _ := plotter.NewScatter(xys(seg))
				sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
				p.Add(sc)
			}
			p.Add(l)
			thumb = l
		}
		leg.Add(seriesName(s.Name, i, "loss"), thumb)
	}
	// Room above the curves for the phase labels.
	p.Y.Min = ymin
	p.Y.Max = ymax + 0.12*(ymax-ymin)
	if p.Y.Max == p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	p.Add(phases.inFront())
	return p, leg, nil
}

func accPlot(acc []Series, phases *phaseLines) (*plot.Plot, plot.Legend, error) {
	leg := newLegend()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range acc {
		for _, q := range s.Points {
			lo, hi = math.Min(lo, q.Y), math.Max(hi, q.Y)
		}
	}
	unit := 1.0
	if hi > 1.0001 {
		unit = 100
	}
	p := newPlot("validation accuracy")
	p.Y.Tick.Marker = percentTicks{unit: unit}
	p.Add(phases)
	// A range with some air, in steps of a tenth, inside [0, 1].
	p.Y.Min = math.Max(0, math.Floor((lo/unit-0.02)*10)/10) * unit
	p.Y.Max = math.Min(1, math.Ceil((hi/unit+0.02)*10)/10) * unit
	if phases.labels {
		p.Y.Max = math.Min(1.12, p.Y.Max/unit+0.1) * unit
	}
	scale := 0
	for i, s := range acc {
		var c color.RGBA
		width := vg.Points(1.6)
		glyph := draw.GlyphDrawer(draw.CircleGlyph{})
		if strings.Contains(strings.ToLower(s.Name), "fused") {
			c, width, glyph = fusedColor, vg.Points(2.4), draw.BoxGlyph{}
		} else {
			if scale == 0 {
				c = Scale1Color
			} else {
				c = ScaleColors[(scale-1)%len(ScaleColors)]
			}
			scale++
		}
		l, pts, err := plotter.NewLinePoints(xys(s.Points))
		if err != nil {
			return nil, leg, fmt.Errorf("viz: curves: %s: %w", s.Name, err)
		}
		l.Color, l.Width = c, width
		pts.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2.6), Shape: glyph}
		p.Add(l, pts)
		leg.Add(seriesName(s.Name, i, "accuracy"), l, pts)
	}
	p.Add(phases.inFront())
	return p, leg, nil
}

func seriesName(name string, i int, what string) string {
	if name == "" {
		return fmt.Sprintf("%s %d", what, i+1)
	}
	return name
}

// percentTicks are the default ticks written as percentages.
type percentTicks struct{ unit float64 }

func (t percentTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		v := ticks[i].Value / t.unit * 100
		if v > 100.0001 {
			ticks[i].Label = "" // the headroom above 100 % for labels
			continue
		}
		ticks[i].Label = strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) + "%"
	}
	return ticks
}

// phaseLines shades each phase, from its mark to the next, in a faint
// version of its colour (the colour of the loss series of the same name, or
// grey), draws the boundaries as dashed vertical lines across the data area
// and, when labels is set, writes each phase's label at the top of its band
// where the whole label fits.
type phaseLines struct {
	marks  []PhaseMark
	colors map[string]color.RGBA
	labels bool
	// front is set on the copy added after the curves: it writes the
	// labels only; the first copy draws the bands and lines only.
	front bool
}

// inFront is the copy of pl that writes the labels over the curves.
func (pl *phaseLines) inFront() *phaseLines {
	f := *pl
	f.front = true
	return &f
}

func (pl *phaseLines) color(label string) (color.RGBA, bool) {
	c, ok := pl.colors[strings.ToLower(label)]
	return c, ok
}

func (pl *phaseLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	ls := draw.LineStyle{Color: phaseColor, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
	pad := pxLen(4)
	var marks []PhaseMark
	for _, m := range pl.marks {
		if !math.IsNaN(m.Step) && m.Step <= p.X.Max {
			marks = append(marks, m)
		}
	}
	slices.SortStableFunc(marks, func(a, b PhaseMark) int { return cmp.Compare(a.Step, b.Step) })
	end := vg.Length(math.Inf(-1)) // right end of the last label written
	for i, m := range marks {
		x0 := trX(math.Max(m.Step, p.X.Min))
		x1 := c.Max.X
		if i+1 < len(marks) {
			x1 = trX(math.Max(marks[i+1].Step, p.X.Min))
		}
		col, known := pl.color(m.Label)
		bg := color.RGBA{R: 255, G: 255, B: 255, A: 255}
		if known {
			bg = tint(col, bandOpacity)
		}
		if known && x1 > x0 && !pl.front {
			c.FillPolygon(bg, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		}
		if m.Step >= p.X.Min && !pl.front {
			c.StrokeLine2(ls, x0, c.Min.Y, x0, c.Max.Y)
		}
		if !pl.labels || !pl.front || m.Label == "" {
			continue
		}
		sty := textStyle(11, known)
		sty.Color = color.RGBA{R: 60, G: 60, B: 70, A: 255}
		if known {
			sty.Color = shade(col, 0.75)
		}
		sty.YAlign = draw.YTop
		tx := max(x0+pad, end)
		w := sty.Width(m.Label)
		if tx+w <= x1-pad || (i+1 == len(marks) && tx+w <= c.Max.X) {
			ty := c.Max.Y - pad
			veil(c, bg, tx, ty-sty.Height(m.Label), tx+w, ty)
			c.FillText(sty, vg.Point{X: tx, Y: ty}, m.Label)
			end = tx + w + 2*pad
			continue
		}
		// It does not fit across its band. A coloured band is explained by
		// the legend; an uncoloured one gets its label along its line.
		if known || x0+pad < end || x0+pad+sty.Height(m.Label) > x1 || w > c.Max.Y-c.Min.Y-2*pad {
			continue
		}
		sty.Rotation = -math.Pi / 2
		sty.YAlign = draw.YBottom
		veil(c, bg, x0+pad, c.Max.Y-pad-w, x0+pad+sty.Height(m.Label), c.Max.Y-pad)
		c.FillText(sty, vg.Point{X: x0 + pad, Y: c.Max.Y - pad}, m.Label)
		end = x0 + 2*pad + sty.Height(m.Label)
	}
}

// veil lays a translucent white rectangle under a label, so that curves
// passing under it do not make it unreadable.
func veil(c draw.Canvas, under color.RGBA, x0, y0, x1, y1 vg.Length) {
	m := pxLen(2)
	c.FillPolygon(color.NRGBA{R: under.R, G: under.G, B: under.B, A: 200}, []vg.Point{
		{X: x0 - m, Y: y0 - m}, {X: x1 + m, Y: y0 - m}, {X: x1 + m, Y: y1 + m}, {X: x0 - m, Y: y1 + m},
	})
}

// bandOpacity is how strongly a phase's band is tinted with its colour.
const bandOpacity = 0.07

// tint is c at opacity a over white.
func tint(c color.RGBA, a float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(255 - (255-float64(v))*a)) }
	return color.RGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: 255}
}

// shade is c darkened to the fraction f of its brightness.
func shade(c color.RGBA, f float64) color.RGBA {
	m := func(v uint8) uint8 { return uint8(math.Round(float64(v) * f)) }
	return color.RGBA{R: m(c.R), G: m(c.G), B: m(c.B), A: 255}
}
