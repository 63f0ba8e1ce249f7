package apn

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// checkShapes fails unless s holds exactly the parameters named in want,
// with those shapes.
func checkShapes(t *testing.T, s *nn.Store, want map[string][]int64) {
	t.Helper()
	shapes := s.Shapes()
	if len(shapes) != len(want) {
		t.Fatalf("names %v", s.Names())
	}
	for name, w := range want {
		if got := shapes[name]; !slices.Equal(got, w) {
			t.Fatalf("%s: shape %v, want %v", name, got, w)
		}
	}
}

// NewHead registers the contract's names and shapes, and an untrained head
// proposes the centred InitHalf box whatever the input.
func TestNewHeadNamesAndInitialBox(t *testing.T) {
	torch.ManualSeed(1)
	s := nn.NewStore(torch.CPU)
	defer s.Free()
	cfg := DefaultConfig()
	h := NewHead(s, "scale1.apn", 16, 6, 8, 32, cfg)
	checkShapes(t, s, map[string][]int64{
		"scale1.apn.fc1.weight": {32, 16 * 3 * 4}, "scale1.apn.fc1.bias": {32},
		"scale1.apn.fc2.weight": {3, 32}, "scale1.apn.fc2.bias": {3},
	})
	torch.WithScope(func() {
		feat := torch.Randn([]int64{5, 16, 6, 8}).MulScalar(3)
		boxes := h.Forward(feat).Float64s()
		for i := 0; i < 5; i++ {
			b := boxes[3*i : 3*i+3]
			if math.Abs(b[0]-0.5) > 0.01 || math.Abs(b[1]-0.5) > 0.01 || math.Abs(b[2]-cfg.InitHalf) > 0.01 {
				t.Fatalf("initial box %d: %v, want about (0.5, 0.5, %v)", i, b, cfg.InitHalf)
			}
		}
		// The box still depends on the input (FC2 is small, not zero), so FC1
		// gets a gradient from the first step.
		if boxes[0] == boxes[3] && boxes[1] == boxes[4] {
			t.Fatal("untrained head gives the same box for different inputs")
		}
	})
}

// The head's gradient with respect to its input features and all four
// parameter tensors, float64, against central differences.
func TestHeadGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	const n, c, fh, fw, hidden = 2, 3, 4, 6, 5
	in := c * (fh / 2) * (fw / 2)
	vals := map[string][]float64{
		"feat": normSlice(rng, n*c*fh*fw),
		"w1":   randSlice(rng, hidden*in, -0.4, 0.4),
		"b1":   randSlice(rng, hidden, -0.2, 0.2),
		"w2":   randSlice(rng, 3*hidden, -1, 1),
		"b2":   randSlice(rng, 3, -0.5, 0.5),
	}
	shapes := map[string][]int64{
		"feat": {n, c, fh, fw}, "w1": {hidden, int64(in)}, "b1": {hidden}, "w2": {3, hidden}, "b2": {3},
	}
	r := normSlice(rng, n*3)
	cfg := DefaultConfig()
	build := func(v map[string][]float64, grad bool) (*Head, map[string]*torch.Tensor) {
		ts := map[string]*torch.Tensor{}
		for k, x := range v {
			ts[k] = t64(x, shapes[k]...).SetRequiresGrad(grad)
		}
		return &Head{FC1: &nn.Linear{W: ts["w1"], B: ts["b1"]}, FC2: &nn.Linear{W: ts["w2"], B: ts["b2"]},
			Cfg: cfg, FeatW: fw, FeatH: fh}, ts
	}
	loss := func(v map[string][]float64) float64 {
		h, ts := build(v, false)
		return h.Forward(ts["feat"]).Mul(t64(r, n, 3)).Sum().Item()
	}
	grads := map[string][]float64{}
	torch.WithScope(func() {
		h, ts := build(vals, true)
		h.Forward(ts["feat"]).Mul(t64(r, n, 3)).Sum().Backward()
		for k, x := range ts {
			grads[k] = x.Grad().Float64s()
		}
	})
	for _, k := range []string{"feat", "w1", "b1", "w2", "b2"} {
		num := centralDiff(func(x []float64) float64 {
			v := map[string][]float64{}
			for kk, vv := range vals {
				v[kk] = vv
			}
			v[k] = x
			return loss(v)
		}, vals[k], allIdx(len(vals[k])), 1e-6)
		if err := compareGrads("dbox/d"+k, grads[k], num, 1e-6, 1e-9); err != nil {
			t.Error(err)
		}
	}
}

// With Pool 1 the head reads the whole map: FC1 takes every cell, and a
// change in one cell that a 2×2 max-pool would hide still moves the box.
func TestHeadWithoutPool(t *testing.T) {
	torch.ManualSeed(2)
	s := nn.NewStore(torch.CPU)
	defer s.Free()
	cfg := DefaultConfig()
	cfg.Pool = 1
	h := NewHead(s, "scale1.apn", 4, 6, 8, 16, cfg)
	if got := s.Shapes()["scale1.apn.fc1.weight"]; got[1] != 4*6*8 {
		t.Fatalf("fc1 weight %v, want 16 x %d", got, 4*6*8)
	}
	torch.WithScope(func() {
		torch.NoGrad(func() {
			// FC2 is initialised tiny; make it matter.
			h.FC2.W.CopyFrom(torch.Randn([]int64{3, 16}))
		})
		a := make([]float32, 4*6*8)
		a[0] = 1 // the 2×2 block's maximum
		b := append([]float32(nil), a...)
		b[1] = 0.5 // a smaller value in the same block: invisible after a 2×2 max-pool
		ba := h.Forward(torch.FromSlice(a, 1, 4, 6, 8)).Float64s()
		bb := h.Forward(torch.FromSlice(b, 1, 4, 6, 8)).Float64s()
		if ba[0] == bb[0] && ba[1] == bb[1] && ba[2] == bb[2] {
			t.Fatal("the box ignored a cell a pool would have hidden")
		}
	})
}
