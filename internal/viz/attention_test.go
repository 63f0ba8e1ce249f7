package viz

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/data"
)

// gradient is a W×H image with R = 2x, G = 2y, B = 128: no pixel of it has a
// box or frame colour.
func gradient(w, h int) *data.Image {
	im := &data.Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			im.Pix[i], im.Pix[i+1], im.Pix[i+2] = uint8(2*x), uint8(2*y), 128
		}
	}
	return im
}

// pattern is an n×n image whose pixels encode their position and a tag.
func pattern(n int, tag uint8) *data.Image {
	im := &data.Image{W: n, H: n, Pix: make([]uint8, n*n*3)}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			i := (y*n + x) * 3
			im.Pix[i], im.Pix[i+1], im.Pix[i+2] = uint8(5*x), uint8(5*y), tag
		}
	}
	return im
}

func pixelOf(im *data.Image, x, y int) color.RGBA {
	i := (y*im.W + x) * 3
	return color.RGBA{im.Pix[i], im.Pix[i+1], im.Pix[i+2], 255}
}

// inStroke reports whether (x, y) lies on the w-pixel outline drawn inside r.
func inStroke(r image.Rectangle, w, x, y int) bool {
	p := image.Pt(x, y)
	return p.In(r) && !p.In(r.Inset(w))
}

func testView() AttentionView {
	return AttentionView{
		Source:   gradient(128, 128),
		Boxes:    [][4]float64{{16, 24, 96, 104}, {40, 48, 72, 80}},
		Crops:    []*data.Image{pattern(48, 10), pattern(48, 20)},
		Captions: []string{"scale 1: Laysan albatross 0.82", "scale 2: Laysan albatross 0.90", "scale 3: Laysan albatross 0.94", "fused: Laysan albatross 0.93"},
	}
}

func TestAttentionLayoutAndPixels(t *testing.T) {
	v := testView()
	img, err := Attention(v)
	if err != nil {
		t.Fatal(err)
	}
	// A 128×128 source is scaled ×2 to MinPanelHeight; three columns of
	// 256 + 2 frames, two gaps, two margins.
	const ph = 256
	wantW := 2*margin + 3*(ph+2*frame) + 2*gap
	if got := img.Bounds().Dx(); got != wantW {
		t.Fatalf("width %d, want %d", got, wantW)
	}
	if h := img.Bounds().Dy(); h < 2*margin+ph+2*frame+2*lineHeight(newFaces().caption) || h > 2*margin+ph+2*frame+120 {
		t.Fatalf("height %d is not about panel + captions", h)
	}
	l := v.layout(newFaces())
	if l.W != img.Bounds().Dx() || l.H != img.Bounds().Dy() {
		t.Fatalf("layout %d×%d, image %v", l.W, l.H, img.Bounds())
	}
	// Source panel: at the top left, inside its frame.
	src := image.Rect(margin+frame, margin+frame, margin+frame+ph, margin+frame+ph)
	if l.panels[0] != src {
		t.Fatalf("source panel at %v, want %v", l.panels[0], src)
	}
	b2 := image.Rect(32, 48, 192, 208).Add(src.Min)
	b3 := image.Rect(80, 96, 144, 160).Add(src.Min)
	for y := src.Min.Y; y < src.Max.Y; y++ {
		for x := src.Min.X; x < src.Max.X; x++ {
			var want color.RGBA
			switch {
			case inStroke(b3, boxLine, x, y):
				want = ScaleColors[1]
			case inStroke(b2, boxLine, x, y):
				want = ScaleColors[0]
			default: // the source, nearest-neighbour ×2
				want = pixelOf(v.Source, (x-src.Min.X)/2, (y-src.Min.Y)/2)
			}
			if got := img.RGBAAt(x, y); got != want {
				t.Fatalf("source panel pixel (%d,%d) = %v, want %v", x-src.Min.X, y-src.Min.Y, got, want)
			}
		}
	}
	// The frames: the source's neutral, each crop's its box's colour.
	for i, r := range l.panels {
		want := Scale1Color
		if i > 0 {
			want = ScaleColors[i-1]
		}
		fr := r.Inset(-frame)
		for _, p := range []image.Point{fr.Min, {fr.Max.X - 1, fr.Min.Y}, {fr.Min.X, fr.Max.Y - 1}, {fr.Max.X - 1, fr.Max.Y - 1}, {r.Min.X - 1, (r.Min.Y + r.Max.Y) / 2}, {(r.Min.X + r.Max.X) / 2, r.Max.Y}} {
			if got := img.RGBAAt(p.X, p.Y); got != want {
				t.Errorf("panel %d frame pixel %v = %v, want %v", i, p, got, want)
			}
		}
		if got := img.RGBAAt(fr.Min.X-1, fr.Min.Y); got != background {
			t.Errorf("panel %d: pixel left of the frame is %v, want background", i, got)
		}
	}
	// The crops: right of the source, in order, 48 → 256 nearest neighbour.
	for i, c := range v.Crops {
		r := l.panels[i+1]
		wantMinX := margin + (i+1)*(ph+2*frame+gap) + frame
		if r != image.Rect(wantMinX, src.Min.Y, wantMinX+ph, src.Max.Y) {
			t.Fatalf("crop %d panel at %v", i+1, r)
		}
		for y := 0; y < ph; y++ {
			for x := 0; x < ph; x++ {
				want := pixelOf(c, (2*x+1)*48/(2*ph), (2*y+1)*48/(2*ph))
				if got := img.RGBAAt(r.Min.X+x, r.Min.Y+y); got != want {
					t.Fatalf("crop %d pixel (%d,%d) = %v, want %v", i+1, x, y, got, want)
				}
			}
		}
	}
	// Captions: ink under every panel and in the footer, nothing between.
	lh := lineHeight(newFaces().caption)
	for i, col := range l.columns {
		strip := image.Rect(col.Min.X+swatch+swatchGap, l.captionY, col.Max.X, l.captionY+lh)
		if n := ink(img, strip); n < 100 {
			t.Errorf("caption %d: %d inked pixels in %v", i, n, strip)
		}
		sw := image.Rect(col.Min.X, l.captionY, col.Min.X+swatch, l.captionY+lh)
		if n := ink(img, sw); n < swatch*swatch {
			t.Errorf("caption %d: swatch has %d pixels", i, n)
		}
	}
	if l.footerY <= l.captionY || len(l.footerLines) != 1 {
		t.Fatalf("footer at %d (captions at %d): %q", l.footerY, l.captionY, l.footerLines)
	}
	if n := ink(img, image.Rect(margin, l.footerY, l.W-margin, l.footerY+lh)); n < 100 {
		t.Errorf("footer: %d inked pixels", n)
	}
	if n := ink(img, image.Rect(0, src.Max.Y+frame, l.W, l.captionY-2)); n != 0 {
		t.Errorf("%d inked pixels between the panels and the captions", n)
	}
	if n := ink(img, image.Rect(0, l.H-margin+2, l.W, l.H)); n != 0 {
		t.Errorf("%d inked pixels in the bottom margin", n)
	}
}

// ink counts the pixels of r that are not background.
func ink(img *image.RGBA, r image.Rectangle) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) != background {
				n++
			}
		}
	}
	return n
}

func countColor(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) == c {
				n++
			}
		}
	}
	return n
}

func TestAttentionClipsBoxes(t *testing.T) {
	v := testView()
	v.Boxes = [][4]float64{{-50, -50, 60, 200}, {500, 500, 900, 900}}
	img, err := Attention(v)
	if err != nil {
		t.Fatal(err)
	}
	src := v.layout(newFaces()).panels[0]
	// Only the right side of box 1 is inside: x in [120-3, 120) over the
	// whole height; box 2 is entirely outside.
	want := boxLine * src.Dy()
	if n := countColor(img, src, ScaleColors[0]); n != want {
		t.Errorf("%d pixels of box 1's colour, want %d", n, want)
	}
	for y := src.Min.Y; y < src.Max.Y; y++ {
		for x := 117; x < 120; x++ {
			if img.RGBAAt(src.Min.X+x, y) != ScaleColors[0] {
				t.Fatalf("box 1 right side missing at (%d,%d)", x, y-src.Min.Y)
			}
		}
	}
	if n := countColor(img, src, ScaleColors[1]); n != 0 {
		t.Errorf("%d pixels of box 2's colour, want none", n)
	}
	// Nothing leaks out of the source panel into the frame or margin.
	fr := src.Inset(-frame)
	if n := countColor(img, image.Rect(0, 0, fr.Max.X, fr.Min.Y), ScaleColors[0]); n != 0 {
		t.Errorf("box drawn above the source panel: %d pixels", n)
	}
	// Absurd boxes neither panic nor draw outside.
	v.Boxes = [][4]float64{{-1e300, -1e300, 1e300, 1e300}, {-3, -3, 0.2, 0.2}}
	img, err = Attention(v)
	if err != nil {
		t.Fatal(err)
	}
	if n := countColor(img, src, ScaleColors[0]); n != 0 {
		t.Errorf("%d pixels of a box whose sides are all outside", n)
	}
}

func TestAttentionErrors(t *testing.T) {
	good := testView()
	cases := map[string]func(v *AttentionView){
		"source image is nil":       func(v *AttentionView) { v.Source = nil },
		"source image has size 0×5": func(v *AttentionView) { v.Source = &data.Image{W: 0, H: 5} },
		"but has 5 bytes":           func(v *AttentionView) { v.Source = &data.Image{W: 2, H: 2, Pix: make([]uint8, 5)} },
		"crop 2 (scale 3 input) is nil": func(v *AttentionView) {
			v.Crops = []*data.Image{v.Crops[0], nil}
		},
		"crop 1 (scale 2 input) has size 48×0": func(v *AttentionView) {
			v.Crops = []*data.Image{{W: 48, H: 0}, v.Crops[1]}
		},
		"2 attention boxes but 1 crops": func(v *AttentionView) { v.Crops = v.Crops[:1] },
		"not finite":                    func(v *AttentionView) { v.Boxes = [][4]float64{{0, 0, math.NaN(), 4}, {0, 0, 1, 1}} },
		"want x1 < x2":                  func(v *AttentionView) { v.Boxes = [][4]float64{{10, 0, 5, 4}, {0, 0, 1, 1}} },
	}
	for want, mutate := range cases {
		v := good
		v.Crops = append([]*data.Image(nil), good.Crops...)
		mutate(&v)
		img, err := Attention(v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", want, err, want)
		}
		if img != nil {
			t.Errorf("%s: got an image with the error", want)
		}
	}
}

func TestAttentionVariants(t *testing.T) {
	// No boxes, no captions: just the framed source.
	img, err := Attention(AttentionView{Source: gradient(128, 128)})
	if err != nil {
		t.Fatal(err)
	}
	w := 2*margin + MinPanelHeight + 2*frame
	if img.Bounds() != image.Rect(0, 0, w, w) {
		t.Errorf("bare source: %v, want %d×%d", img.Bounds(), w, w)
	}
	// A title pushes the panels down; a large source is scaled down to
	// MaxPanelHeight; a long caption wraps rather than spilling over.
	v := testView()
	v.Title = "CUB_200_2011/images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg"
	v.Source = gradient(1000, 750)
	v.Boxes = [][4]float64{{100, 100, 700, 700}, {200, 200, 500, 500}}
	v.Crops = []*data.Image{pattern(224, 1), pattern(224, 2)}
	v.Captions[2] = "scale 3: Black-footed albatross, a class name long enough to need a second line under its panel 0.94"
	img, err = Attention(v)
	if err != nil {
		t.Fatal(err)
	}
	l := v.layout(newFaces())
	if l.panels[0].Dy() != MaxPanelHeight || l.panels[0].Dx() != 683 {
		t.Errorf("1000×750 source drawn at %v, want 683×%d", l.panels[0].Size(), MaxPanelHeight)
	}
	if l.panels[0].Min.Y <= margin+frame+lineHeight(newFaces().title) {
		t.Errorf("title does not push the panels down: %v", l.panels[0])
	}
	if len(l.captions[2]) != 2 {
		t.Errorf("long caption wrapped to %q", l.captions[2])
	}
	if n := ink(img, image.Rect(margin, margin, l.W-margin, margin+lineHeight(newFaces().title))); n < 200 {
		t.Errorf("title: %d inked pixels", n)
	}
	for i, c := range l.captions {
		for _, s := range c {
			if wd := textWidth(newFaces().caption, s); wd > l.columns[i].Dx()-swatch-swatchGap {
				t.Errorf("caption line %q is %d px wide, column %d", s, wd, l.columns[i].Dx())
			}
		}
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	img, err := Attention(testView())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "viz.png")
	for range 2 { // the second write replaces the first
		if err := WritePNG(path, img); err != nil {
			t.Fatal(err)
		}
	}
	back := decodePNG(t, path)
	if back.Bounds() != img.Bounds() {
		t.Fatalf("decoded %v, wrote %v", back.Bounds(), img.Bounds())
	}
	r, g, b, _ := back.At(margin+frame+40, margin+frame+60).RGBA()
	if want := img.RGBAAt(margin+frame+40, margin+frame+60); uint8(r>>8) != want.R || uint8(g>>8) != want.G || uint8(b>>8) != want.B {
		t.Errorf("decoded pixel differs from %v", want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only viz.png (no temporary files)", len(entries))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := WritePNG(filepath.Join(dir, "missing", "x.png"), img); err == nil {
		t.Error("writing into a missing directory: no error")
	}
	if err := WritePNG(filepath.Join(dir, "empty.png"), image.NewRGBA(image.Rect(0, 0, 0, 0))); err == nil {
		t.Error("writing an empty image: no error")
	}
}
