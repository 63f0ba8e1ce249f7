// Package transform turns decoded images into the float32 tensors RA-CNN
// trains on.
//
// # Design: geometry first, pixels once
//
// Every geometric transform (resize, crop, flip) is a change of a View: an
// axis-aligned window of the decoded image, the output size it is rendered
// at and a mirror flag. Composing transforms only changes those numbers; the
// pixels are computed once, by Render, which resamples the window straight
// into normalised float32 CHW with separable precomputed filter weights.
// "Resize the shorter side to 512, random-crop 448, flip, normalise" is
// therefore one pass over the pixels that are actually kept, and the box
// annotation goes through the same View (MapBox), so it cannot drift from the
// pixels.
//
// # Coordinates
//
// As in data.Box: the origin is the top-left corner of the top-left pixel, x
// grows right, y down, and pixel (i, j) covers [i, i+1) × [j, j+1) with its
// centre at (i+0.5, j+0.5).
//
// # Filter
//
// Render uses the bilinear (triangle, "tent") filter exactly as Pillow's
// Image.resize(BILINEAR, box=...) computes its coefficients, which is also
// what torchvision's Resize does on PIL images: for an output pixel whose
// centre maps to source coordinate c, with s = source pixels per output pixel,
// the support is r = max(1, s) source pixels and source pixel x gets weight
// tent((x + 0.5 − c) / max(1, s)) with tent(t) = max(0, 1 − |t|), the taps
// running over x ∈ [floor(c − r + 0.5), floor(c + r + 0.5)) clipped to the
// image, and the weights are renormalised to sum to 1. When upscaling (s ≤ 1)
// this is plain bilinear interpolation with edge clamping; when downscaling
// the tent widens with the scale, i.e. it is an area-weighted antialiasing
// filter and does not alias. Unlike Pillow, which rounds to 8 bits after each
// pass, Render keeps float32 between the passes; results agree with Pillow to
// within about one grey level.
//
// # Padding
//
// A window may extend beyond the image (a crop larger than the resized
// image). Output pixels whose centre falls outside the image are padding:
// they get the value 0 after normalisation, i.e. the mean colour. A crop larger
// than the image is centred on it, in train and eval mode alike.
package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/racnn/racnn/internal/data"
)

// View is a lazily transformed image: the window [X0, X0+WinW) × [Y0,
// Y0+WinH) of a SrcW×SrcH image (in source pixels, may reach outside the
// image), rendered at W×H output pixels and mirrored left–right when Flip is
// set. The zero View is invalid; start from NewView.
type View struct {
	SrcW, SrcH int
	X0, Y0     float64
	WinW, WinH float64
	W, H       int
	Flip       bool
}

// NewView is the identity view of a w×h image.
func NewView(w, h int) View {
	return View{SrcW: w, SrcH: h, WinW: float64(w), WinH: float64(h), W: w, H: h}
}

// Resize renders the current view at w×h (the window is unchanged).
func (v View) Resize(w, h int) View {
	v.W, v.H = w, h
	return v
}

// ResizeShorter scales the view so that its shorter side is s, keeping the
// aspect ratio. The longer side is int(s·long/short), truncated, as
// torchvision's Resize(int) computes it.
func (v View) ResizeShorter(s int) View {
	if v.W <= v.H {
		return v.Resize(s, int(float64(s)*float64(v.H)/float64(v.W)))
	}
	return v.Resize(int(float64(s)*float64(v.W)/float64(v.H)), s)
}

// Crop keeps the w×h rectangle whose top-left corner is (x, y) in the current
// output pixels. The rectangle may reach outside the view (padding).
func (v View) Crop(x, y, w, h int) View {
	sx := v.WinW / float64(v.W)
	sy := v.WinH / float64(v.H)
	if v.Flip {
		// Output column x is window column W-1-x: mirror the rectangle.
		x = v.W - (x + w)
	}
	v.X0 += float64(x) * sx
	v.Y0 += float64(y) * sy
	v.WinW = float64(w) * sx
	v.WinH = float64(h) * sy
	v.W, v.H = w, h
	return v
}

// CenterCrop keeps the centred w×h rectangle; offsets are rounded as
// torchvision's CenterCrop does, int(round((W−w)/2)) with Python's round
// half to even. A rectangle larger than the view is centred on it and
// padded.
func (v View) CenterCrop(w, h int) View {
	x := int(math.RoundToEven(float64(v.W-w) / 2))
	y := int(math.RoundToEven(float64(v.H-h) / 2))
	return v.Crop(x, y, w, h)
}

// RandomCrop keeps a w×h rectangle at an integer offset drawn uniformly from
// [0, W−w] × [0, H−h], the x offset first (torchvision's RandomCrop draws the
// same range). Along a side where the view is smaller than the crop, the
// rectangle is centred and padded, as in CenterCrop.
func (v View) RandomCrop(w, h int, rng *rand.Rand) View {
	x := int(math.RoundToEven(float64(v.W-w) / 2))
	y := int(math.RoundToEven(float64(v.H-h) / 2))
	if v.W > w {
		x = rng.IntN(v.W - w + 1)
	}
	if v.H > h {
		y = rng.IntN(v.H - h + 1)
	}
	return v.Crop(x, y, w, h)
}

// HFlip mirrors the view left–right.
func (v View) HFlip() View {
	v.Flip = !v.Flip
	return v
}

// MapBox maps a box in source-image pixels to the view's output pixels,
// clipped to [0, W] × [0, H]. A box that falls wholly outside the view comes
// back with zero width or height at the nearest edge.
func (v View) MapBox(b data.Box) data.Box {
	sx := float64(v.W) / v.WinW
	sy := float64(v.H) / v.WinH
	x0 := clamp((b.X-v.X0)*sx, 0, float64(v.W))
	x1 := clamp((b.X+b.W-v.X0)*sx, 0, float64(v.W))
	y0 := clamp((b.Y-v.Y0)*sy, 0, float64(v.H))
	y1 := clamp((b.Y+b.H-v.Y0)*sy, 0, float64(v.H))
	if x1 < x0 {
		x1 = x0
	}
	if y1 < y0 {
		y1 = y0
	}
	if v.Flip {
		x0, x1 = float64(v.W)-x1, float64(v.W)-x0
	}
	return data.Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// Scaled returns the view of the same image whose source size is w×h
// instead of SrcW×SrcH: the window is scaled with the image. Use it when the
// decoder delivered a reduced image (JPEG DCT scaling) for a view planned on
// the full-size image.
func (v View) Scaled(w, h int) View {
	fx := float64(w) / float64(v.SrcW)
	fy := float64(h) / float64(v.SrcH)
	v.X0 *= fx
	v.WinW *= fx
	v.Y0 *= fy
	v.WinH *= fy
	v.SrcW, v.SrcH = w, h
	return v
}

func (v View) check() error {
	if v.SrcW <= 0 || v.SrcH <= 0 || v.W <= 0 || v.H <= 0 || !(v.WinW > 0) || !(v.WinH > 0) {
		return fmt.Errorf("transform: invalid view %+v", v)
	}
	return nil
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}
