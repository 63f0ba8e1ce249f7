package apn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// The crop's gradients, in float64 against central differences. The scalar
// checked is L = Σ crop·R with fixed random weights R.

type cropProblem struct {
	n, c, h, w, oh, ow int64
	src, boxes, r      []float64
	cfg                Config
}

func newCropProblem(seed int64, mode string, k float64) cropProblem {
	rng := rand.New(rand.NewSource(seed))
	p := cropProblem{n: 2, c: 2, h: 9, w: 13, oh: 7, ow: 6}
	p.src = randSlice(rng, int(p.n*p.c*p.h*p.w), 0, 1)
	// Boxes inside the image (non-square source: S = 9).
	p.boxes = []float64{0.41, 0.53, 0.3, 0.62, 0.44, 0.23}
	p.r = normSlice(rng, int(p.n*p.c*p.oh*p.ow))
	p.cfg = DefaultConfig()
	p.cfg.Mode, p.cfg.K = mode, k
	return p
}

// loss is L for src and boxes given as Go slices; gridBoxes, when not nil,
// holds the sampling grid at those boxes (the function boxcar mode
// differentiates).
func (p cropProblem) loss(src, boxes, gridBoxes []float64) float64 {
	s := t64(src, p.n, p.c, p.h, p.w)
	b := t64(boxes, p.n, 3)
	var out *torch.Tensor
	if gridBoxes == nil {
		out = Crop(s, b, p.oh, p.ow, p.cfg)
	} else {
		out = crop(s, b, t64(gridBoxes, p.n, 3), p.oh, p.ow, p.cfg)
	}
	return out.Mul(t64(p.r, p.n, p.c, p.oh, p.ow)).Sum().Item()
}

// autograd returns dL/dsrc and dL/dboxes from Crop's backward pass.
func (p cropProblem) autograd() (gSrc, gBoxes []float64) {
	torch.WithScope(func() {
		s := t64(p.src, p.n, p.c, p.h, p.w).SetRequiresGrad(true)
		b := t64(p.boxes, p.n, 3).SetRequiresGrad(true)
		Crop(s, b, p.oh, p.ow, p.cfg).Mul(t64(p.r, p.n, p.c, p.oh, p.ow)).Sum().Backward()
		gSrc, gBoxes = s.Grad().Float64s(), b.Grad().Float64s()
	})
	return gSrc, gBoxes
}

func TestCropGradSource(t *testing.T) {
	for _, mode := range []string{ModeBoxcar, ModeGrid} {
		p := newCropProblem(2, mode, 20)
		gSrc, _ := p.autograd()
		num := centralDiff(func(x []float64) float64 { return p.loss(x, p.boxes, nil) }, p.src, allIdx(len(p.src)), 1e-6)
		if err := compareGrads(mode+" dL/dsrc", gSrc, num, 1e-6, 1e-8); err != nil {
			t.Error(err)
		}
		nonzero := 0
		for _, g := range gSrc {
			if g != 0 {
				nonzero++
			}
		}
		if nonzero < len(gSrc)/4 {
			t.Errorf("%s: only %d of %d source pixels get a gradient", mode, nonzero, len(gSrc))
		}
	}
}

// Grid mode differentiates the whole forward pass: its box gradient must
// match finite differences of Crop itself.
func TestCropGradBoxesGridMode(t *testing.T) {
	for _, k := range []float64{20, 300} {
		p := newCropProblem(3, ModeGrid, k)
		_, gBoxes := p.autograd()
		num := centralDiff(func(x []float64) float64 { return p.loss(p.src, x, nil) }, p.boxes, allIdx(6), 1e-7)
		if err := compareGrads("grid dL/dboxes", gBoxes, num, 1e-5, 1e-7); err != nil {
			t.Errorf("k=%v: %v", k, err)
		}
	}
}

// Boxcar mode differentiates the crop with the sampling grid held fixed:
// compare with finite differences of exactly that function (grid at the
// unperturbed boxes, mask at the perturbed ones).
func TestCropGradBoxesBoxcarMode(t *testing.T) {
	for _, k := range []float64{20, 300} {
		p := newCropProblem(4, ModeBoxcar, k)
		_, gBoxes := p.autograd()
		num := centralDiff(func(x []float64) float64 { return p.loss(p.src, x, p.boxes) }, p.boxes, allIdx(6), 1e-7)
		if err := compareGrads("boxcar dL/dboxes (grid held)", gBoxes, num, 1e-5, 1e-7); err != nil {
			t.Errorf("k=%v: %v", k, err)
		}
		var norm float64
		for _, g := range gBoxes {
			norm += g * g
		}
		if norm == 0 {
			t.Errorf("k=%v: the boxes get no gradient through the mask", k)
		}
	}
}

// The boxcar gradient is a surrogate: it is not the derivative of the
// forward pass. The test asserts that the checker sees the difference (so
// the two checks above could fail) and logs how the two compare on a
// smooth image at training-like sizes.
func TestCropBoxcarGradIsASurrogate(t *testing.T) {
	p := newCropProblem(5, ModeBoxcar, 20)
	_, surrogate := p.autograd()
	full := centralDiff(func(x []float64) float64 { return p.loss(p.src, x, nil) }, p.boxes, allIdx(6), 1e-7)
	if compareGrads("boxcar vs full", surrogate, full, 1e-5, 1e-7) == nil {
		t.Fatal("the boxcar (mask-only) gradient matched finite differences of the full crop: the checks cannot tell the modes apart")
	}

	// A smooth image with structure (a bright disc off-centre on a ramp),
	// 1×3×64×96 → 32×32, K = 300, the loss being the crop's mean brightness
	// weighted by a fixed random field.
	for _, k := range []float64{20, 300, 3000} {
		rng := rand.New(rand.NewSource(6))
		q := cropProblem{n: 1, c: 3, h: 64, w: 96, oh: 32, ow: 32}
		q.src = make([]float64, q.c*q.h*q.w)
		for c := int64(0); c < q.c; c++ {
			for y := int64(0); y < q.h; y++ {
				for x := int64(0); x < q.w; x++ {
					dx, dy := float64(x)-60, float64(y)-25
					q.src[(c*q.h+y)*q.w+x] = 0.2*float64(x)/96 + math.Exp(-(dx*dx+dy*dy)/(2*8*8)) + 0.1*float64(c)
				}
			}
		}
		q.boxes = []float64{0.55, 0.45, 0.22}
		q.r = randSlice(rng, int(q.c*q.oh*q.ow), 0.5, 1.5)
		q.cfg = DefaultConfig()
		q.cfg.K = k
		_, sur := q.autograd()
		tru := centralDiff(func(x []float64) float64 { return q.loss(q.src, x, nil) }, q.boxes, allIdx(3), 1e-7)
		for i, name := range []string{"t_x", "t_y", "t_l"} {
			agree := "same sign"
			if sur[i]*tru[i] < 0 {
				agree = "OPPOSITE sign"
			}
			t.Logf("K=%-5v %s: boxcar (mask-only) grad %+.4g, finite differences of the forward %+.4g, ratio |full/boxcar| %.3g, %s",
				k, name, sur[i], tru[i], math.Abs(tru[i]/sur[i]), agree)
		}
	}
}
