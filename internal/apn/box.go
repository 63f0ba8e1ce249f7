// Package apn is RA-CNN's attention proposal: the APN head that reads a
// scale's last convolutional features and proposes a square box, the box
// parameterisation, the boxcar-masked crop and bilinear zoom that turns the
// box into the next scale's input, box composition across scales, and the
// targets of APN pre-training.
//
// # Boxes
//
// A box is a tensor [N, 3] = (t_x, t_y, t_l) per sample, in FRACTIONS of the
// image it refers to: t_x of the width W, t_y of the height H, and the
// half-side t_l of the shorter side S = min(W, H), so every box is a square
// in pixels. The origin is the top-left corner of the top-left pixel, x runs
// right and y down; pixel (r, c) covers [c, c+1) × [r, r+1), its centre is
// (c+0.5, r+0.5). Corners in pixels:
//
//	x_tl = t_x·W − t_l·S, x_br = t_x·W + t_l·S
//	y_tl = t_y·H − t_l·S, y_br = t_y·H + t_l·S
//
// Fractions do not change when an image is resized, so a box proposed on the
// scale-1 input is also a box on the full-resolution source (t_l is then a
// fraction of the source's shorter side).
package apn

import (
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/torch"
)

// Crop modes.
const (
	// ModeBoxcar is the paper's scheme: the sampling grid follows the box but
	// is held fixed (detached) for the gradient, which reaches (t_x, t_y, t_l)
	// only through the boxcar mask M. This gradient is a surrogate: it is not
	// the derivative of the forward pass (see the tests' log).
	ModeBoxcar = "boxcar"
	// ModeGrid differentiates the sampling grid too (a spatial-transformer
	// crop), so the box gradient is the true derivative of the forward pass.
	// The forward pass is the same in both modes.
	ModeGrid = "grid"
)

// Padding rules for samples that fall outside the source.
const (
	// PadBorder repeats the edge pixels. It is the default because a box
	// flush with the image edge samples up to half a source pixel beyond it
	// (the outermost output pixel centres lie within half an output pixel of
	// the box edge, and bilinear weights reach half a source pixel further);
	// zeros would darken that row and column.
	PadBorder = "border"
	// PadZeros reads zeros outside the source (boxes that leave the image
	// show black there).
	PadZeros = "zeros"
)

// Config is the box parameterisation and crop configuration, shared by all
// APNs of a model.
type Config struct {
	// Mode is ModeBoxcar (paper) or ModeGrid.
	Mode string `mapstructure:"mode"`
	// K is the sharpness of h(z) = 1/(1+exp(−K z)), per unit of fractional
	// coordinate, measured in the shorter side S of the image being cropped
	// (so the mask's edge is equally sharp along x and y, in pixels). The
	// mask falls from 0.95 to 0.05 over 2·3/K of S: with K = 300 that is 2 %
	// of S (9 px of a 448-px side). Published values, in these units for a
	// 448-px side: released Caffe layer 0.05/px = 22, PyTorch ports 10/px =
	// 4480; 300 is about their geometric mean. Larger K makes the forward a
	// sharper crop but concentrates the box gradient on fewer output pixels.
	K float64 `mapstructure:"k"`
	// MinHalf and MaxHalf bound t_l (fraction of the shorter side). Released
	// Caffe layer: 0.01; some ports force 1/3 because boxes collapsed.
	MinHalf float64 `mapstructure:"min_half"`
	MaxHalf float64 `mapstructure:"max_half"`
	// Inside keeps the whole box inside the image: the centre's range
	// shrinks as the box grows (requires MaxHalf ≤ 0.5).
	Inside bool `mapstructure:"inside"`
	// Padding is PadBorder (default when empty) or PadZeros.
	Padding string `mapstructure:"padding"`
	// InitHalf is the half-side of the centred box an untrained head
	// proposes; 0 means 0.25 (the paper's pre-training prior) clipped into
	// [MinHalf, MaxHalf].
	InitHalf float64 `mapstructure:"init_half"`
	// Pool is the side of the max-pool before the head's first FC layer: 2
	// (or 0) as the released model, which pools conv5_4's 28×28 map; 1 for
	// none, for small maps where a 2×2 pool halves an already coarse grid.
	// The soft-argmax head reads every cell and ignores it.
	Pool int `mapstructure:"pool"`
	// Head is HeadFC (the paper's; the default when empty) or
	// HeadSoftArgmax.
	Head string `mapstructure:"head"`
}

// HeadKind returns the head kind, HeadFC when Head is empty.
func (c Config) HeadKind() string {
	if c.Head == "" {
		return HeadFC
	}
	return c.Head
}

// PoolSize returns the effective max-pool side (Pool, 0 meaning 2).
func (c Config) PoolSize() int64 {
	if c.Pool <= 0 {
		return 2
	}
	return int64(c.Pool)
}

// DefaultConfig returns the paper's crop with this package's defaults:
// boxcar gradients, K = 300, half-sides in [0.1, 0.5] (a box covers at least
// a fifth of the side, so one scale zooms at most 5×), boxes inside the
// image, border padding, untrained heads proposing the centred half-side
// 0.25 box.
func DefaultConfig() Config {
	return Config{Mode: ModeBoxcar, K: 300, MinHalf: 0.1, MaxHalf: 0.5, Inside: true, Padding: PadBorder, InitHalf: 0.25}
}

// Validate reports the first inconsistent field.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeBoxcar, ModeGrid:
	default:
		return fmt.Errorf("apn mode %q: want %q or %q", c.Mode, ModeBoxcar, ModeGrid)
	}
	switch c.Head {
	case "", HeadFC, HeadSoftArgmax:
	default:
		return fmt.Errorf("apn head %q: want %q or %q", c.Head, HeadFC, HeadSoftArgmax)
	}
	switch c.Padding {
	case "", PadBorder, PadZeros:
	default:
		return fmt.Errorf("apn padding %q: want %q or %q", c.Padding, PadBorder, PadZeros)
	}
	if !(c.K > 0) || math.IsInf(c.K, 0) {
		return fmt.Errorf("apn k %v: want a finite value > 0", c.K)
	}
	if !(c.MinHalf > 0 && c.MinHalf <= c.MaxHalf) {
		return fmt.Errorf("apn half-side range [%v, %v]: want 0 < min_half <= max_half", c.MinHalf, c.MaxHalf)
	}
	if c.Inside && c.MaxHalf > 0.5 {
		return fmt.Errorf("apn max_half %v with inside: a box inside the image has a half-side of at most 0.5", c.MaxHalf)
	}
	if c.InitHalf != 0 && (c.InitHalf < c.MinHalf || c.InitHalf > c.MaxHalf) {
		return fmt.Errorf("apn init_half %v: want a value in [min_half, max_half] = [%v, %v]", c.InitHalf, c.MinHalf, c.MaxHalf)
	}
	return nil
}

func (c Config) initHalf() float64 {
	if c.InitHalf != 0 {
		return c.InitHalf
	}
	return math.Min(math.Max(0.25, c.MinHalf), c.MaxHalf)
}

func (c Config) padding() torch.GridPadding {
	if c.Padding == PadZeros {
		return torch.PadZeros
	}
	return torch.PadBorder
}

// shortOver returns S/W and S/H for an image of width w and height h.
func shortOver(w, h float64) (sw, sh float64) {
	s := math.Min(w, h)
	return s / w, s / h
}

// clampInside shifts the centres (t_x, t_y) [N, 1] of boxes of half-side
// t_l [N, 1] on a w×h image into the range that keeps each box inside it
// (the size is kept). The gradient reaches a centre only where it was not
// shifted, and t_l where it was.
func clampInside(tx, ty, tl *torch.Tensor, w, h float64) (*torch.Tensor, *torch.Tensor) {
	sw, sh := shortOver(w, h)
	rx, ry := tl.MulScalar(sw), tl.MulScalar(sh)
	return tx.Maximum(rx).Minimum(rx.RSub(1)), ty.Maximum(ry).Minimum(ry.RSub(1))
}

// cols returns the columns of a [N, 3] box tensor as [N, 1] tensors.
func cols(boxes *torch.Tensor) (tx, ty, tl *torch.Tensor) {
	return boxes.Narrow(1, 0, 1), boxes.Narrow(1, 1, 1), boxes.Narrow(1, 2, 1)
}

// FromUnit maps u [N, 3] in (0, 1)³ (the head's sigmoids, in the order
// (x, y, size)) to boxes [N, 3] on an image of width w and height h (only
// their ratio matters):
//
//	t_l = MinHalf + (MaxHalf − MinHalf)·u_l
//	t_x = r_x + (1 − 2 r_x)·u_x,  r_x = t_l·S/W   (Inside; else t_x = u_x)
//	t_y = r_y + (1 − 2 r_y)·u_y,  r_y = t_l·S/H   (Inside; else t_y = u_y)
//
// r_x is the box's half-width as a fraction of W, so with Inside the centre
// ranges over exactly the positions that keep the box inside the image.
//
// Why this form: ports that clamped t_x, t_y, t_l into range (or truncated
// them) gave the APN zero gradient whenever a clamp was active, and their
// boxes collapsed or saturated into corners. Here every u in (0, 1)³ is a
// valid box and every valid box has exactly one u, so no clamp is needed,
// and the size is bounded by construction. What remains is the sigmoids'
// own saturation (u near 0 or 1), where the gradient is small but not zero.
func FromUnit(u *torch.Tensor, w, h float64, c Config) *torch.Tensor {
	ux, uy, ul := cols(u)
	tl := ul.MulScalar(c.MaxHalf - c.MinHalf).AddScalar(c.MinHalf)
	tx, ty := ux, uy
	if c.Inside {
		sw, sh := shortOver(w, h)
		// r + (1 − 2r)·u = u + r·(1 − 2u)
		tx = ux.Add(tl.MulScalar(sw).Mul(ux.MulScalar(-2).AddScalar(1)))
		ty = uy.Add(tl.MulScalar(sh).Mul(uy.MulScalar(-2).AddScalar(1)))
	}
	return torch.Cat([]*torch.Tensor{tx, ty, tl}, 1)
}

// ToUnit inverts FromUnit for one box: it returns the u in [0, 1]³ that
// FromUnit maps to box (t_x, t_y, t_l), after clipping the box into the
// parameterisation's range. Heads use it to start from a given box.
func ToUnit(box [3]float64, w, h float64, c Config) [3]float64 {
	tl := math.Min(math.Max(box[2], c.MinHalf), c.MaxHalf)
	ul := 0.5
	if c.MaxHalf > c.MinHalf {
		ul = (tl - c.MinHalf) / (c.MaxHalf - c.MinHalf)
	}
	ux, uy := clip01(box[0]), clip01(box[1])
	if c.Inside {
		sw, sh := shortOver(w, h)
		ux = unitCentre(box[0], tl*sw)
		uy = unitCentre(box[1], tl*sh)
	}
	return [3]float64{ux, uy, ul}
}

// unitCentre inverts t = r + (1 − 2r)·u for u, clipped to [0, 1].
func unitCentre(t, r float64) float64 {
	if d := 1 - 2*r; d > 1e-12 {
		return clip01((t - r) / d)
	}
	return 0.5
}

func clip01(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

// Compose maps inner, a box given relative to a crop (fractions of the
// crop), to the source image the crop was cut from with box outer (fractions
// of the source, whose width and height are srcW and srcH), so scale 3 can
// crop the source directly. The crop is the square outer region, of side
// L = 2·o_l·S pixels, so with the crop's fractions relative to L:
//
//	c_x = o_x + (2 i_x − 1)·o_l·S/W
//	c_y = o_y + (2 i_y − 1)·o_l·S/H
//	c_l = 2·i_l·o_l
//
// Differentiable with respect to both boxes. It assumes the crop was zoomed
// to a square output (outH == outW), as RA-CNN's scales are; otherwise
// inner's t_l is not a square on the source.
func Compose(outer, inner *torch.Tensor, srcW, srcH int64) *torch.Tensor {
	sw, sh := shortOver(float64(srcW), float64(srcH))
	ox, oy, ol := cols(outer)
	ix, iy, il := cols(inner)
	cx := ox.Add(ix.MulScalar(2).SubScalar(1).Mul(ol).MulScalar(sw))
	cy := oy.Add(iy.MulScalar(2).SubScalar(1).Mul(ol).MulScalar(sh))
	cl := il.Mul(ol).MulScalar(2)
	return torch.Cat([]*torch.Tensor{cx, cy, cl}, 1)
}

// ToPixels converts boxes (N×3 values, row-major, as copied out of a [N, 3]
// tensor) on a W×H image to pixel corners x1, y1, x2, y2 (corner
// coordinates: a box over the whole image is 0, 0, W, H).
func ToPixels(boxes []float32, W, H int) [][4]float64 {
	s := math.Min(float64(W), float64(H))
	out := make([][4]float64, len(boxes)/3)
	for i := range out {
		tx, ty, tl := float64(boxes[3*i]), float64(boxes[3*i+1]), float64(boxes[3*i+2])
		cx, cy, l := tx*float64(W), ty*float64(H), tl*s
		out[i] = [4]float64{cx - l, cy - l, cx + l, cy + l}
	}
	return out
}
