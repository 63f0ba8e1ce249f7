package apn

import (
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/torch"
)

// PretrainTargets returns the APN pre-training targets for feat [N, C, h, w]
// (a scale's last conv features): per sample, the square centred on the
// cell with the highest channel-mean response, of half-side halfSide
// (fraction of the shorter side; PAPER.md: 0.25, a square of half the side).
//
// Cell (r, c) of an h×w map covers [c/w, (c+1)/w) × [r/h, (r+1)/h) of the
// image, so the centre is ((c + 0.5)/w, (r + 0.5)/h). The half-side is
// clipped into [MinHalf, MaxHalf]; with Inside, the centre is shifted (not
// the size shrunk) until the box fits, using the feature map's aspect w/h as
// the image's (as Head does, so every target is a box the head can output).
// Ties go to the first cell in row-major order.
//
// The result is [N, 3] in feat's dtype, on feat's device, without grad.
func PretrainTargets(feat *torch.Tensor, halfSide float64, cfg Config) *torch.Tensor {
	shape := feat.Shape()
	if len(shape) != 4 {
		panic(&torch.Error{Msg: fmt.Sprintf("apn.PretrainTargets: feat shape %v: want [N, C, h, w]", shape)})
	}
	n, fh, fw := shape[0], shape[2], shape[3]
	var peaks []int64
	torch.NoGrad(func() {
		peaks = feat.MeanDims([]int64{1}, false).Flatten(1, 2).Argmax(1, false).Int64s()
	})
	out := make([]float64, 0, 3*n)
	for _, p := range peaks {
		r, c := p/fw, p%fw
		b := peakBox(float64(c), float64(r), float64(fw), float64(fh), halfSide, cfg)
		out = append(out, b[:]...)
	}
	return torch.FromSlice(out, n, 3).ToDType(feat.DType()).To(feat.Device())
}

// peakBox is the target box for the peak cell (c, r) of a w×h map.
func peakBox(c, r, w, h, halfSide float64, cfg Config) [3]float64 {
	tl := math.Min(math.Max(halfSide, cfg.MinHalf), cfg.MaxHalf)
	tx, ty := (c+0.5)/w, (r+0.5)/h
	if cfg.Inside {
		sw, sh := shortOver(w, h)
		tx = math.Min(math.Max(tx, tl*sw), 1-tl*sw)
		ty = math.Min(math.Max(ty, tl*sh), 1-tl*sh)
	}
	return [3]float64{tx, ty, tl}
}
