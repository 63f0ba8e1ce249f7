package apn

import (
	"fmt"
	"math"
	"slices"

	"github.com/racnn/racnn/internal/torch"
)

// Peak chooses where a pre-training square is centred.
type Peak string

const (
	// PeakCell centres the square on the highest cell of the response: the
	// paper's wording ("centred on the highest response").
	PeakCell Peak = "cell"
	// PeakSquare centres it where a window of the square's own size holds
	// the most response: the square that covers the most of the object the
	// net responds to, rather than its single strongest cell, which is as
	// often a piece of clutter as the object.
	PeakSquare Peak = "square"
)

// Target says which square APN pre-training regresses onto.
type Target struct {
	// Half is the square's half-side, a fraction of the shorter side
	// (the paper: 0.25, a square of half the side).
	Half float64
	// Peak chooses where it is centred.
	Peak Peak
	// Window is the side of the window PeakSquare sums the response over,
	// a fraction of the shorter side; 0 means the square's own side (2 ×
	// Half). The object's size, where it is known to differ from the
	// square's: a window the object's size finds it most often.
	Window float64
}

// PretrainTargets returns the APN pre-training targets for feat [N, C, h, w]
// (a scale's last conv features): per sample, the square of tg.Half centred
// on the peak of the channel-mean response, found as tg.Peak says.
//
// Cell (r, c) of an h×w map covers [c/w, (c+1)/w) × [r/h, (r+1)/h) of the
// image, so its centre is ((c + 0.5)/w, (r + 0.5)/h). For PeakSquare the
// response is first summed over k×k windows (cells outside the map count as
// zero), k the smallest odd number of cells at least the window's side. The
// peak is then located below the cell size: the centroid of the 3×3
// neighbourhood of the highest cell, weighted by each cell's response above
// the neighbourhood's minimum (a lone peak stays at its cell centre), so a
// coarse map still places the centre between cells. The half-side is
// clipped into [MinHalf, MaxHalf]; with Inside, the centre is shifted (not
// the size shrunk) until the box fits, using the feature map's aspect w/h as
// the image's (as Head does, so every target is a box the head can output).
// Ties go to the first cell in row-major order.
//
// The result is [N, 3] in feat's dtype (float32 for bf16 or fp16 maps: box
// coordinates stay float32), on feat's device, without grad.
func PretrainTargets(feat *torch.Tensor, tg Target, cfg Config) *torch.Tensor {
	shape := feat.Shape()
	if len(shape) != 4 {
		torch.Fail(fmt.Errorf("apn.PretrainTargets: feat shape %v: want [N, C, h, w]", shape))
	}
	if tg.Peak != PeakCell && tg.Peak != PeakSquare {
		torch.Fail(fmt.Errorf("apn.PretrainTargets: peak %q: want cell or square", tg.Peak))
	}
	n, fh, fw := shape[0], shape[2], shape[3]
	var resp []float64
	torch.NoGrad(func() {
		resp = feat.MeanDims([]int64{1}, false).Contiguous().Float64s()
	})
	tl := math.Min(math.Max(tg.Half, cfg.MinHalf), cfg.MaxHalf)
	side := tg.Window
	if side <= 0 {
		side = 2 * tl
	}
	k := max(int(math.Ceil(side*float64(min(fh, fw))-1e-9)), 1)
	if k%2 == 0 {
		k++
	}
	out := make([]float64, 0, 3*n)
	for i := int64(0); i < n; i++ {
		m := resp[i*fh*fw : (i+1)*fh*fw]
		if tg.Peak == PeakSquare {
			m = windowSums(m, int(fh), int(fw), k)
		}
		c, r := subcellPeak(m, int(fh), int(fw))
		b := peakBox(c, r, float64(fw), float64(fh), tg.Half, cfg)
		out = append(out, b[:]...)
	}
	return torch.FromSlice(out, n, 3).ToDType(boxDType(feat.DType())).To(feat.Device())
}

// windowSums returns, for every cell of an h×w map, the sum of the k×k
// window centred on it (k odd), counting cells outside the map as zero.
func windowSums(a []float64, h, w, k int) []float64 {
	out := make([]float64, h*w)
	d := k / 2
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			s := 0.0
			for rr := max(r-d, 0); rr <= min(r+d, h-1); rr++ {
				for cc := max(c-d, 0); cc <= min(c+d, w-1); cc++ {
					s += a[rr*w+cc]
				}
			}
			out[r*w+c] = s
		}
	}
	return out
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

// Recentre returns the pre-training targets coarse [N, 3] moved to the
// centres of fine [N, 3] (boxes on the same w×h image, e.g. a finer scale's
// targets composed back onto it): each keeps its half-side and, with
// Inside, is shifted into the image as PretrainTargets does. The result is
// in coarse's dtype and on its device, without grad.
//
// Why: a coarse map places the square's centre only to within a cell, but
// a square still holds the object, and the next scale sees it inside that
// square at a higher resolution, so its peak places the centre better.
func Recentre(coarse, fine *torch.Tensor, w, h float64, cfg Config) *torch.Tensor {
	if cs, fs := coarse.Shape(), fine.Shape(); len(cs) != 2 || cs[1] != 3 || !slices.Equal(cs, fs) {
		torch.Fail(fmt.Errorf("apn.Recentre: boxes %v and %v; want two [N, 3]", cs, fs))
	}
	var out *torch.Tensor
	torch.NoGrad(func() {
		tx, ty, _ := cols(fine.Detach().ToDType(coarse.DType()).To(coarse.Device()))
		tl := coarse.Detach().Narrow(1, 2, 1)
		if cfg.Inside {
			tx, ty = clampInside(tx, ty, tl, w, h)
		}
		out = torch.Cat([]*torch.Tensor{tx, ty, tl}, 1)
	})
	return out
}

// boxDType is the dtype of boxes computed from tensors of dtype d: float32
// for the low-precision types autocast makes (see Crop), else d.
func boxDType(d torch.DType) torch.DType {
	if d == torch.BFloat16 || d == torch.Float16 {
		return torch.Float32
	}
	return d
}
