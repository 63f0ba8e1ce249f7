package viz

import (
	"image"
	"image/color"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Text sizes of the attention view, in pixels.
const (
	captionSize = 15
	titleSize   = 18
)

var (
	fontsOnce        sync.Once
	regular, bold    *opentype.Font
	errFontsUnparsed error
)

// faceSet holds the faces of one drawing. A font.Face caches glyphs and is
// not safe for concurrent use, so every drawing makes its own; the parsed
// fonts are shared.
type faceSet struct {
	caption, footer, title font.Face
}

// newFaces returns the caption, footer and title faces: the Go fonts,
// hinted, or basicfont's 7×13 if the embedded fonts cannot be parsed (they
// always can; the fallback only keeps a broken build from panicking).
func newFaces() faceSet {
	fontsOnce.Do(func() {
		if regular, errFontsUnparsed = opentype.Parse(goregular.TTF); errFontsUnparsed != nil {
			return
		}
		bold, errFontsUnparsed = opentype.Parse(gobold.TTF)
	})
	load := func(f *opentype.Font, size float64) font.Face {
		if errFontsUnparsed != nil {
			return basicfont.Face7x13
		}
		face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
		if err != nil {
			return basicfont.Face7x13
		}
		return face
	}
	return faceSet{
		caption: load(regular, captionSize),
		footer:  load(bold, captionSize),
		title:   load(bold, titleSize),
	}
}

// lineHeight is the distance between the baselines of two lines of face.
func lineHeight(face font.Face) int {
	m := face.Metrics()
	return (m.Height + fixed.I(1)*3/2).Ceil() // a little leading
}

// ascent is the distance from the top of a line to its baseline.
func ascent(face font.Face) int { return face.Metrics().Ascent.Ceil() }

// textWidth is the advance of s in face, in pixels.
func textWidth(face font.Face, s string) int { return font.MeasureString(face, s).Ceil() }

// wrap breaks s into lines at most width pixels wide, breaking at spaces; a
// word wider than a line is cut and ends in "…". Explicit newlines are kept.
func wrap(face font.Face, s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			lines = append(lines, "")
			continue
		}
		cur := ""
		for _, w := range words {
			try := w
			if cur != "" {
				try = cur + " " + w
			}
			if textWidth(face, try) <= width {
				cur = try
				continue
			}
			if cur != "" {
				lines = append(lines, cur)
			}
			cur = ellipsize(face, w, width)
		}
		lines = append(lines, cur)
	}
	return lines
}

// ellipsize cuts s so that it fits width pixels, ending in "…" when cut.
func ellipsize(face font.Face, s string, width int) string {
	if textWidth(face, s) <= width {
		return s
	}
	r := []rune(s)
	for n := len(r) - 1; n > 0; n-- {
		t := string(r[:n]) + "…"
		if textWidth(face, t) <= width {
			return t
		}
	}
	return "…"
}

// drawText draws s with its top-left corner of the line box at (x, y).
func drawText(dst *image.RGBA, face font.Face, x, y int, c color.Color, s string) {
	d := font.Drawer{
		Dst:  dst,
		Src:  image.NewUniform(c),
		Face: face,
		Dot:  fixed.P(x, y+ascent(face)),
	}
	d.DrawString(s)
}
