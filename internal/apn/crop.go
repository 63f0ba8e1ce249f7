package apn

import (
	"fmt"

	"github.com/racnn/racnn/internal/torch"
)

// Crop returns the box region of src [N, C, H, W], masked by the boxcar
// M(t_x, t_y, t_l) and zoomed bilinearly to outH×outW: [N, C, outH, outW].
// Every sample has its own box (boxes [N, 3], see the package doc).
//
// Sampling: output pixel (i, j) reads the source at the point of the box
// that its centre maps to,
//
//	x_j = x_tl + 2 t_l S·(j + 0.5)/outW,  y_i = y_tl + 2 t_l S·(i + 0.5)/outH
//
// by grid_sample (bilinear, align_corners=false, so source pixel c's centre
// is at x = c + 0.5 and the image spans [0, W]). Coordinates stay real
// numbers throughout: nothing is rounded or truncated inside the graph.
//
// Mask: the boxcar M = [h(x − x_tl) − h(x − x_br)]·[h(y − y_tl) − h(y − y_br)],
// h(z) = 1/(1 + exp(−K z/S)) (K per unit of fractional coordinate of the
// shorter side), is evaluated at the sampled points only, one outW-vector and
// one outH-vector per sample, never at full resolution. The output is
// sample(src)·M, i.e. the paper's crop of X ⊙ M evaluated where it is read.
// The sampled points lie inside the box, so with a large K the mask is ≈ 1
// except on the outermost output pixels (whose centres are half an output
// pixel inside the box edge, where M ≥ 0.5).
//
// Gradients: with respect to src in both modes. With respect to the boxes,
// in ModeGrid the sampling points and the mask are both differentiated (the
// true derivative of this forward pass); in ModeBoxcar the sampling points
// are computed from the boxes but detached, so the gradient reaches the
// boxes only through the corners in M (the paper's scheme, a surrogate).
// The forward pass is the same in both modes.
//
// Samples outside the source read cfg.Padding (border by default; with
// Inside boxes only the half-pixel band at the image edge is affected).
// Boxes are converted to src's dtype.
//
// Precision: the crop runs with autocast off, and a bf16 or fp16 src is
// read as float32, so the grid, the mask and the sampled pixels are always
// float32 (or float64): a bf16 sampling position is off by up to 1/256 of
// its value, over a pixel on a 448-px source.
func Crop(src, boxes *torch.Tensor, outH, outW int64, cfg Config) (out *torch.Tensor) {
	if cfg.Mode != ModeBoxcar && cfg.Mode != ModeGrid {
		torch.Fail(fmt.Errorf("apn.Crop: mode %q: want %q or %q", cfg.Mode, ModeBoxcar, ModeGrid))
	}
	torch.WithoutAutocast(func() {
		src = src.Widen()
		if boxes.DType() != src.DType() {
			boxes = boxes.ToDType(src.DType())
		}
		grid := boxes
		if cfg.Mode == ModeBoxcar {
			grid = boxes.Detach()
		}
		out = crop(src, boxes, grid, outH, outW, cfg)
	})
	return out
}

// crop samples src at the grid of gridBoxes and masks it with the boxcar of
// maskBoxes. Crop passes the same boxes (grid mode) or the boxes and their
// detached copy (boxcar mode); tests hold the grid fixed with it.
func crop(src, maskBoxes, gridBoxes *torch.Tensor, outH, outW int64, cfg Config) *torch.Tensor {
	shape := src.Shape()
	if len(shape) != 4 {
		torch.Fail(fmt.Errorf("apn.Crop: src shape %v: want [N, C, H, W]", shape))
	}
	if b := gridBoxes.Shape(); len(b) != 2 || b[0] != shape[0] || b[1] != 3 {
		torch.Fail(fmt.Errorf("apn.Crop: boxes shape %v for %d images: want [%d, 3]", b, shape[0], shape[0]))
	}
	n, h, w := shape[0], float64(shape[2]), float64(shape[3])
	sw, sh := shortOver(w, h)
	opts := []torch.Option{torch.WithDType(src.DType()), torch.OnDevice(src.Device())}

	// Output pixel centres in [-1, 1] across the box: a_j = (2j + 1)/outW − 1.
	ax := torch.Arange(0, float64(outW), 1, opts...).MulScalar(2 / float64(outW)).AddScalar(1/float64(outW) - 1).Unsqueeze(0)
	ay := torch.Arange(0, float64(outH), 1, opts...).MulScalar(2 / float64(outH)).AddScalar(1/float64(outH) - 1).Unsqueeze(0)

	// Sampling points in units of S: p = t·(W/S) + t_l·a, [N, out].
	gx, gy, gl := cols(gridBoxes)
	px := gx.MulScalar(1 / sw).Add(gl.Mul(ax))
	py := gy.MulScalar(1 / sh).Add(gl.Mul(ay))

	// grid_sample's coordinates (align_corners=false): g = 2x/W − 1 = 2p·S/W − 1.
	grid := torch.Stack([]*torch.Tensor{
		px.MulScalar(2*sw).SubScalar(1).Unsqueeze(1).Expand(n, outH, outW),
		py.MulScalar(2*sh).SubScalar(1).Unsqueeze(2).Expand(n, outH, outW),
	}, 3)
	sampled := torch.GridSample(src, grid, torch.GridBilinear, cfg.padding(), false)

	// Boxcar at the sampling points, corners from maskBoxes, units of S.
	mx, my, ml := cols(maskBoxes)
	mask1 := func(p, centre *torch.Tensor) *torch.Tensor {
		d := p.Sub(centre) // signed distance to the centre
		return d.Add(ml).MulScalar(cfg.K).Sigmoid().Sub(d.Sub(ml).MulScalar(cfg.K).Sigmoid())
	}
	maskX := mask1(px, mx.MulScalar(1/sw)) // [N, outW]
	maskY := mask1(py, my.MulScalar(1/sh)) // [N, outH]
	mask := maskY.Unsqueeze(2).Mul(maskX.Unsqueeze(1)).Unsqueeze(1)
	return sampled.Mul(mask)
}
