package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	xdraw "golang.org/x/image/draw"

	"github.com/racnn/racnn/internal/data"
)

// AttentionView is what one prediction's attention picture shows.
type AttentionView struct {
	// Source is the scale-1 input as the user gave it (any size).
	Source *data.Image
	// Boxes are the attention boxes, outermost first (Boxes[0] produced
	// scale 2's input, Boxes[1] scale 3's), as x1, y1, x2, y2 in Source
	// pixels: origin at the top-left corner of the top-left pixel, x to the
	// right, y down; a box covering the whole image is {0, 0, W, H}. Boxes
	// may reach outside the image; they are clipped when drawn.
	Boxes [][4]float64
	// Crops are the zoomed inputs of scales 2, 3, … (Crops[i] was cut by
	// Boxes[i]); len(Crops) must equal len(Boxes).
	Crops []*data.Image
	// Captions are written under the panels: Captions[0] under the source,
	// Captions[i] under Crops[i-1]; the ones after the last panel (the fused
	// prediction, say) are written in bold across the bottom. Missing or
	// empty captions leave their place blank.
	Captions []string
	// Title, when not empty, is written in bold across the top.
	Title string
}

// Layout of the attention view, in output pixels.
const (
	// MinPanelHeight is the least height the panels are scaled to, so that
	// a 28×28 digit on a 128×128 canvas and its 48×48 crops come out large
	// enough to see and to caption.
	MinPanelHeight = 256
	// MaxPanelHeight is the greatest: larger sources are scaled down.
	MaxPanelHeight = 512
	// maxPanelWidth caps a very wide source (or crop).
	maxPanelWidth = 1024
	// minColumnWidth keeps captions readable under narrow panels.
	minColumnWidth = 200

	margin    = 16 // around everything
	gap       = 18 // between panel columns
	frame     = 3  // coloured frame around each panel, outside the image
	boxLine   = 3  // width of an attention box's lines, inside the box
	swatch    = 11 // the colour square in front of a caption
	swatchGap = 6
	capGap    = 9 // between a panel's frame and its caption
	titleGap  = 10
	footerGap = 8
)

var (
	background = color.RGBA{R: 255, G: 255, B: 255, A: 255}
	textColor  = color.RGBA{R: 34, G: 34, B: 40, A: 255}
)

// attentionLayout is where everything of an AttentionView goes.
type attentionLayout struct {
	W, H int

	titleY     int
	titleLines []string

	panels   []image.Rectangle // image area: [0] the source, [i] Crops[i-1]
	columns  []image.Rectangle // x range of each column (caption area), y unused
	captionY int
	captions [][]string // wrapped caption of each panel

	footerY     int
	footerLines []string
}

// panelHeight is the height the panels are scaled to for a source srcH tall.
func panelHeight(srcH int) int {
	return min(max(srcH, MinPanelHeight), MaxPanelHeight)
}

// fitSize is the size im is drawn at: ph tall, its aspect kept, at most
// maxPanelWidth wide.
func fitSize(w, h, ph int) (int, int) {
	dw := int(math.Round(float64(w) * float64(ph) / float64(h)))
	dh := ph
	if dw > maxPanelWidth {
		dw = maxPanelWidth
		dh = int(math.Round(float64(h) * float64(maxPanelWidth) / float64(w)))
	}
	return max(dw, 1), max(dh, 1)
}

func (v *AttentionView) check() error {
	if err := checkImage("source image", v.Source); err != nil {
		return err
	}
	if len(v.Crops) != len(v.Boxes) {
		return fmt.Errorf("viz: %d attention boxes but %d crops; each box needs the crop it produced", len(v.Boxes), len(v.Crops))
	}
	for i, c := range v.Crops {
		if err := checkImage(fmt.Sprintf("crop %d (scale %d input)", i+1, i+2), c); err != nil {
			return err
		}
	}
	for i, b := range v.Boxes {
		for _, x := range b {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("viz: box %d (scale %d) is %v: not finite", i+1, i+2, b)
			}
		}
		if b[2] <= b[0] || b[3] <= b[1] {
			return fmt.Errorf("viz: box %d (scale %d) is %v: want x1 < x2 and y1 < y2", i+1, i+2, b)
		}
	}
	return nil
}

func (v *AttentionView) layout(fs faceSet) attentionLayout {
	capFace, footFace, titFace := fs.caption, fs.footer, fs.title
	var l attentionLayout
	ph := panelHeight(v.Source.H)

	// Panel sizes and column widths.
	sizes := []image.Point{}
	sw, sh := fitSize(v.Source.W, v.Source.H, ph)
	sizes = append(sizes, image.Pt(sw, sh))
	for _, c := range v.Crops {
		w, h := fitSize(c.W, c.H, ph)
		sizes = append(sizes, image.Pt(w, h))
	}
	top := margin
	x := margin
	for i, s := range sizes {
		if i > 0 {
			x += gap
		}
		colW := max(s.X+2*frame, minColumnWidth)
		l.columns = append(l.columns, image.Rect(x, 0, x+colW, 0))
		ix := x + (colW-s.X)/2
		l.panels = append(l.panels, image.Rect(ix, 0, ix+s.X, s.Y))
		x += colW
	}
	l.W = x + margin
	inner := l.W - 2*margin

	// Title across the top.
	if v.Title != "" {
		l.titleY = top
		l.titleLines = wrap(titFace, v.Title, inner)
		top += len(l.titleLines)*lineHeight(titFace) + titleGap
	}
	for i := range l.panels {
		l.panels[i] = l.panels[i].Add(image.Pt(0, top+frame))
	}

	// Captions under the panels.
	l.captionY = top + ph + 2*frame + capGap
	capLines := 0
	for i, col := range l.columns {
		var s string
		if i < len(v.Captions) {
			s = v.Captions[i]
		}
		var lines []string
		if s != "" {
			lines = wrap(capFace, s, col.Dx()-swatch-swatchGap)
		}
		l.captions = append(l.captions, lines)
		capLines = max(capLines, len(lines))
	}
	y := l.captionY + capLines*lineHeight(capFace)

	// The captions with no panel (the fused prediction) across the bottom.
	if len(v.Captions) > len(l.panels) {
		for _, s := range v.Captions[len(l.panels):] {
			if s != "" {
				l.footerLines = append(l.footerLines, wrap(footFace, s, inner)...)
			}
		}
	}
	if len(l.footerLines) > 0 {
		l.footerY = y + footerGap
		y = l.footerY + len(l.footerLines)*lineHeight(footFace)
	}
	if capLines == 0 && len(l.footerLines) == 0 {
		y -= capGap
	}
	l.H = y + margin
	return l
}

// Attention draws v: the source on the left with the attention boxes on it,
// each in its scale's colour (ScaleColors), the crops to its right scaled to
// the same height and framed in the colour of the box that cut them, and the
// captions underneath. Panels are at least MinPanelHeight pixels tall, so
// small images are scaled up (nearest neighbour from twice up, so that pixels
// stay visible; Catmull-Rom otherwise).
func Attention(v AttentionView) (*image.RGBA, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	fs := newFaces()
	l := v.layout(fs)
	capFace, footFace, titFace := fs.caption, fs.footer, fs.title
	out := image.NewRGBA(image.Rect(0, 0, l.W, l.H))
	fill(out, out.Bounds(), background)

	for i, s := range l.titleLines {
		drawText(out, titFace, margin, l.titleY+i*lineHeight(titFace), textColor, s)
	}

	imgs := append([]*data.Image{v.Source}, v.Crops...)
	for i, r := range l.panels {
		fc := Scale1Color
		if i > 0 {
			fc = scaleColor(i - 1)
		}
		strokeRect(out, r.Inset(-frame), frame, fc)
		scaleInto(out, r, toRGBA(imgs[i]))
	}

	// The boxes, outermost first so the inner ones stay on top.
	src := l.panels[0]
	sx := float64(src.Dx()) / float64(v.Source.W)
	sy := float64(src.Dy()) / float64(v.Source.H)
	for i, b := range v.Boxes {
		r := image.Rect(px(b[0]*sx), px(b[1]*sy), px(b[2]*sx), px(b[3]*sy)).Add(src.Min)
		strokeRectClipped(out, r, boxLine, scaleColor(i), src)
	}

	for i, lines := range l.captions {
		if len(lines) == 0 {
			continue
		}
		fc := Scale1Color
		if i > 0 {
			fc = scaleColor(i - 1)
		}
		x := l.columns[i].Min.X
		lh := lineHeight(capFace)
		// The swatch sits on the first line, centred on the x-height.
		sy := l.captionY + (ascent(capFace)-swatch)/2 + 1
		fill(out, image.Rect(x, sy, x+swatch, sy+swatch), fc)
		for j, s := range lines {
			drawText(out, capFace, x+swatch+swatchGap, l.captionY+j*lh, textColor, s)
		}
	}
	for i, s := range l.footerLines {
		drawText(out, footFace, margin, l.footerY+i*lineHeight(footFace), textColor, s)
	}
	return out, nil
}

// AttentionPNG draws v and writes it to path atomically.
func AttentionPNG(v AttentionView, path string) error {
	img, err := Attention(v)
	if err != nil {
		return err
	}
	return WritePNG(path, img)
}

// px rounds a display coordinate to a pixel edge, clamped far enough out
// that a box reaching way past the image converts without overflow.
func px(x float64) int {
	return int(math.Round(math.Max(-1e6, math.Min(1e6, x))))
}

// scaleInto draws src scaled to fill r of dst.
func scaleInto(dst *image.RGBA, r image.Rectangle, src *image.RGBA) {
	var s xdraw.Interpolator = xdraw.CatmullRom
	if r.Dx() >= 2*src.Bounds().Dx() && r.Dy() >= 2*src.Bounds().Dy() {
		s = xdraw.NearestNeighbor
	}
	if r.Size() == src.Bounds().Size() {
		xdraw.Copy(dst, r.Min, src, src.Bounds(), xdraw.Src, nil)
		return
	}
	s.Scale(dst, r, src, src.Bounds(), xdraw.Src, nil)
}

// fill paints r (clipped to dst) with c.
func fill(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	xdraw.Draw(dst, r, image.NewUniform(c), image.Point{}, xdraw.Src)
}

// strokeRect draws the outline of r, w pixels wide, inside r.
func strokeRect(dst *image.RGBA, r image.Rectangle, w int, c color.RGBA) {
	strokeRectClipped(dst, r, w, c, dst.Bounds())
}

// strokeRectClipped draws the outline of r, w pixels wide, inside r, and
// only where it falls in clip: the sides of r outside clip are not drawn.
func strokeRectClipped(dst *image.RGBA, r image.Rectangle, w int, c color.RGBA, clip image.Rectangle) {
	if r.Empty() {
		return
	}
	sides := []image.Rectangle{
		image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+w), // top
		image.Rect(r.Min.X, r.Max.Y-w, r.Max.X, r.Max.Y), // bottom
		image.Rect(r.Min.X, r.Min.Y, r.Min.X+w, r.Max.Y), // left
		image.Rect(r.Max.X-w, r.Min.Y, r.Max.X, r.Max.Y), // right
	}
	for _, s := range sides {
		fill(dst, s.Intersect(r).Intersect(clip), c)
	}
}
