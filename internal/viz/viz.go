// Package viz draws the pictures racnn writes for people: the attention view
// of one prediction (source image with the nested attention boxes, the zoomed
// crops each scale saw, and the per-scale predictions) and the training
// curves of a run (loss per step and validation accuracy per evaluation).
//
// It is pure Go: images are plain data.Image values and the output is an
// image.RGBA or a PNG file.
package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/racnn/racnn/internal/atomicfile"
	"github.com/racnn/racnn/internal/data"
)

// ScaleColors are the colours of scale 2, scale 3, … : the attention box that
// produced a scale's input and that scale's frame in the attention view, and
// that scale's accuracy curve. Scale 1 (the whole image) uses Scale1Color.
var ScaleColors = []color.RGBA{
	{R: 255, G: 96, B: 0, A: 255},  // scale 2: orange
	{R: 0, G: 190, B: 255, A: 255}, // scale 3: sky blue
	{R: 230, G: 0, B: 170, A: 255}, // scale 4: magenta
	{R: 60, G: 200, B: 40, A: 255}, // scale 5: green
}

// Scale1Color is the frame colour of the source (scale 1) panel.
var Scale1Color = color.RGBA{R: 90, G: 90, B: 100, A: 255}

// scaleColor is the colour of the box and crop with 0-based index i.
func scaleColor(i int) color.RGBA { return ScaleColors[i%len(ScaleColors)] }

// checkImage reports whether im is a usable image.
func checkImage(what string, im *data.Image) error {
	switch {
	case im == nil:
		return fmt.Errorf("viz: %s is nil", what)
	case im.W <= 0 || im.H <= 0:
		return fmt.Errorf("viz: %s has size %d×%d", what, im.W, im.H)
	case len(im.Pix) != im.W*im.H*3:
		return fmt.Errorf("viz: %s is %d×%d but has %d bytes, want %d", what, im.W, im.H, len(im.Pix), im.W*im.H*3)
	}
	return nil
}

// toRGBA converts a data.Image (HWC RGB) to an opaque image.RGBA.
func toRGBA(im *data.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	for i, j := 0, 0; i < len(im.Pix); i, j = i+3, j+4 {
		out.Pix[j] = im.Pix[i]
		out.Pix[j+1] = im.Pix[i+1]
		out.Pix[j+2] = im.Pix[i+2]
		out.Pix[j+3] = 255
	}
	return out
}

// WritePNG encodes img as PNG to path atomically: it writes a temporary file
// in the same directory, syncs it and renames it over path, so a reader never
// sees a half-written picture. The file is created with mode 0644.
func WritePNG(path string, img image.Image) (err error) {
	if img == nil {
		return errors.New("viz: WritePNG: nil image")
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return fmt.Errorf("viz: WritePNG: empty image %v", b)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		return (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(w, img)
	})
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}
