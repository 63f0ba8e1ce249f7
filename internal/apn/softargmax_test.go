package apn

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// NewSoftArgmaxHead registers its names and shapes, and the untrained head
// proposes the centred InitHalf box whatever the input, with gradient
// reaching the heat map from the first step.
func TestSoftArgmaxHeadNamesAndInitialBox(t *testing.T) {
	torch.ManualSeed(1)
	s := nn.NewStore(torch.CPU)
	defer s.Free()
	cfg := DefaultConfig()
	cfg.Head = HeadSoftArgmax
	h := NewProposer(s, "scale1.apn", 16, 6, 8, 32, cfg).(*SoftArgmaxHead)
	checkShapes(t, s, map[string][]int64{
		"scale1.apn.heat1.weight": {32, 16}, "scale1.apn.heat1.bias": {32},
		"scale1.apn.heat2.weight": {1, 32}, "scale1.apn.heat2.bias": {1},
		"scale1.apn.size.weight": {1, 16}, "scale1.apn.size.bias": {1},
	})
	torch.WithScope(func() {
		feat := torch.Randn([]int64{5, 16, 6, 8}).MulScalar(3).SetRequiresGrad(true)
		boxes := h.Forward(feat)
		b := boxes.Float64s()
		for i := 0; i < 5; i++ {
			if math.Abs(b[3*i]-0.5) > 0.01 || math.Abs(b[3*i+1]-0.5) > 0.01 || math.Abs(b[3*i+2]-cfg.InitHalf) > 0.01 {
				t.Fatalf("initial box %d: %v, want about (0.5, 0.5, %v)", i, b[3*i:3*i+3], cfg.InitHalf)
			}
		}
		boxes.Narrow(1, 0, 1).Sum().Backward()
		if g := h.Heat2.W.Grad(); g == nil || !slices.ContainsFunc(g.Float64s(), func(x float64) bool { return x != 0 }) {
			t.Fatal("no gradient reaches the heat map's last layer from an untrained head")
		}
	})
}

// softArgmaxRef is the head's formula in plain Go, float64: one sample's
// features f[c][r][col] and parameters → (t_x, t_y, t_l).
func softArgmaxRef(f []float64, c, h, w int, w1, b1, w2 []float64, b2 float64, ws []float64, bs float64, cfg Config) [3]float64 {
	hidden := len(b1)
	cell := func(ch, r, col int) float64 { return f[(ch*h+r)*w+col] }
	score := make([]float64, h*w)
	top := math.Inf(-1)
	for r := 0; r < h; r++ {
		for col := 0; col < w; col++ {
			s := b2
			for j := 0; j < hidden; j++ {
				a := b1[j]
				for ch := 0; ch < c; ch++ {
					a += w1[j*c+ch] * cell(ch, r, col)
				}
				s += w2[j] * math.Max(a, 0)
			}
			score[r*w+col] = s
			top = math.Max(top, s)
		}
	}
	var z, cx, cy float64
	pooled := make([]float64, c)
	for r := 0; r < h; r++ {
		for col := 0; col < w; col++ {
			p := math.Exp(score[r*w+col] - top)
			z += p
			cx += p * (float64(col) + 0.5) / float64(w)
			cy += p * (float64(r) + 0.5) / float64(h)
			for ch := 0; ch < c; ch++ {
				pooled[ch] += p * cell(ch, r, col)
			}
		}
	}
	cx, cy = cx/z, cy/z
	norm := 0.0
	for ch := 0; ch < c; ch++ {
		norm += pooled[ch] * pooled[ch]
	}
	norm = math.Max(math.Sqrt(norm), 1e-12)
	u := bs
	for ch := 0; ch < c; ch++ {
		u += ws[ch] * pooled[ch] / norm
	}
	tl := cfg.MinHalf + (cfg.MaxHalf-cfg.MinHalf)/(1+math.Exp(-u))
	if cfg.Inside {
		s := math.Min(float64(w), float64(h))
		rx, ry := tl*s/float64(w), tl*s/float64(h)
		cx = math.Min(math.Max(cx, rx), 1-rx)
		cy = math.Min(math.Max(cy, ry), 1-ry)
	}
	return [3]float64{cx, cy, tl}
}

type softArgmaxProblem struct {
	n, c, fh, fw, hidden int
	vals                 map[string][]float64
	shapes               map[string][]int64
	cfg                  Config
}

func newSoftArgmaxProblem(seed int64, inside bool) softArgmaxProblem {
	rng := rand.New(rand.NewSource(seed))
	const n, c, fh, fw, hidden = 3, 4, 5, 6, 7
	p := softArgmaxProblem{n: n, c: c, fh: fh, fw: fw, hidden: hidden, cfg: DefaultConfig()}
	p.cfg.Head, p.cfg.Inside = HeadSoftArgmax, inside
	p.vals = map[string][]float64{
		"feat": normSlice(rng, n*c*fh*fw),
		"w1":   randSlice(rng, hidden*c, -0.8, 0.8),
		"b1":   randSlice(rng, hidden, -0.3, 0.3),
		"w2":   randSlice(rng, hidden, -1.5, 1.5),
		"b2":   randSlice(rng, 1, -0.5, 0.5),
		"ws":   randSlice(rng, c, -1, 1),
		"bs":   randSlice(rng, 1, -0.5, 0.5),
	}
	p.shapes = map[string][]int64{"feat": {n, c, fh, fw}, "w1": {hidden, c}, "b1": {hidden}, "w2": {1, hidden}, "b2": {1}, "ws": {1, c}, "bs": {1}}
	return p
}

func (p softArgmaxProblem) build(v map[string][]float64, grad bool) (*SoftArgmaxHead, map[string]*torch.Tensor) {
	s := nn.NewStore(torch.CPU)
	h := NewSoftArgmaxHead(s, "apn", int64(p.c), int64(p.fh), int64(p.fw), int64(p.hidden), p.cfg)
	s.Free()
	ts := map[string]*torch.Tensor{}
	for k, x := range v {
		ts[k] = t64(x, p.shapes[k]...).SetRequiresGrad(grad)
	}
	h.Heat1 = &nn.Linear{W: ts["w1"], B: ts["b1"]}
	h.Heat2 = &nn.Linear{W: ts["w2"], B: ts["b2"]}
	h.Size = &nn.Linear{W: ts["ws"], B: ts["bs"]}
	return h, ts
}

// The head computes its documented formula (checked against plain Go).
func TestSoftArgmaxHeadFormula(t *testing.T) {
	for _, inside := range []bool{false, true} {
		p := newSoftArgmaxProblem(3, inside)
		// Sharpen the heat map so the mean lands near an edge cell and the
		// Inside clamp is active for some samples.
		for i := range p.vals["w2"] {
			p.vals["w2"][i] *= 4
		}
		torch.WithScope(func() {
			h, ts := p.build(p.vals, false)
			got := h.Forward(ts["feat"]).Float64s()
			per := p.c * p.fh * p.fw
			for i := 0; i < p.n; i++ {
				want := softArgmaxRef(p.vals["feat"][i*per:(i+1)*per], p.c, p.fh, p.fw, p.vals["w1"], p.vals["b1"],
					p.vals["w2"], p.vals["b2"][0], p.vals["ws"], p.vals["bs"][0], p.cfg)
				for j := 0; j < 3; j++ {
					if math.Abs(got[3*i+j]-want[j]) > 1e-12 {
						t.Fatalf("inside %v, sample %d: box %v, want %v", inside, i, got[3*i:3*i+3], want)
					}
				}
			}
		})
	}
}

// The head's gradient with respect to its features and all six parameter
// tensors, float64, against central differences (Inside off: the clamp's
// kinks are not differentiable points).
func TestSoftArgmaxHeadGrad(t *testing.T) {
	p := newSoftArgmaxProblem(9, false)
	r := normSlice(rand.New(rand.NewSource(4)), p.n*3)
	loss := func(v map[string][]float64) float64 {
		var out float64
		torch.WithScope(func() {
			h, ts := p.build(v, false)
			out = h.Forward(ts["feat"]).Mul(t64(r, int64(p.n), 3)).Sum().Item()
		})
		return out
	}
	grads := map[string][]float64{}
	torch.WithScope(func() {
		h, ts := p.build(p.vals, true)
		h.Forward(ts["feat"]).Mul(t64(r, int64(p.n), 3)).Sum().Backward()
		for k, x := range ts {
			grads[k] = x.Grad().Float64s()
		}
	})
	for _, k := range []string{"feat", "w1", "b1", "w2", "b2", "ws", "bs"} {
		num := centralDiff(func(x []float64) float64 {
			v := map[string][]float64{}
			for kk, vv := range p.vals {
				v[kk] = vv
			}
			v[k] = x
			return loss(v)
		}, p.vals[k], allIdx(len(p.vals[k])), 1e-6)
		if err := compareGrads("dbox/d"+k, grads[k], num, 1e-6, 1e-9); err != nil {
			t.Error(err)
		}
	}
}

// The head is a convolution over the cells: a feature pattern that the heat
// map scores highest pulls the centre to its cell wherever it is, which is
// what lets it place a box between cell centres on small maps.
func TestSoftArgmaxHeadFollowsTheObject(t *testing.T) {
	torch.ManualSeed(5)
	s := nn.NewStore(torch.CPU)
	defer s.Free()
	cfg := DefaultConfig()
	cfg.Head, cfg.Inside = HeadSoftArgmax, false
	const c, fh, fw = 2, 8, 8
	h := NewSoftArgmaxHead(s, "apn", c, fh, fw, 1, cfg)
	torch.WithScope(func() {
		torch.NoGrad(func() {
			// score = 10·relu(channel 0): the object is where channel 0 is on.
			h.Heat1.W.CopyFrom(torch.FromSlice([]float32{1, 0}, 1, c))
			h.Heat1.B.CopyFrom(torch.Zeros([]int64{1}))
			h.Heat2.W.CopyFrom(torch.FromSlice([]float32{10}, 1, 1))
		})
		for _, at := range [][2]int{{1, 2}, {5, 6}, {7, 0}} {
			f := make([]float32, c*fh*fw)
			f[at[0]*fw+at[1]] = 3 // channel 0, row at[0], column at[1]
			b := h.Forward(torch.FromSlice(f, 1, c, fh, fw)).Float64s()
			wx, wy := (float64(at[1])+0.5)/fw, (float64(at[0])+0.5)/fh
			if math.Abs(b[0]-wx) > 0.01 || math.Abs(b[1]-wy) > 0.01 {
				t.Fatalf("object at cell %v: centre (%.3f, %.3f), want (%.3f, %.3f)", at, b[0], b[1], wx, wy)
			}
		}
		// Two equal objects in neighbouring cells: the centre lies between them.
		f := make([]float32, c*fh*fw)
		f[3*fw+3], f[3*fw+4] = 3, 3
		b := h.Forward(torch.FromSlice(f, 1, c, fh, fw)).Float64s()
		if math.Abs(b[0]-4.0/fw) > 0.01 || math.Abs(b[1]-3.5/fh) > 0.01 {
			t.Fatalf("object across cells (3,3)-(3,4): centre (%.3f, %.3f), want (%.3f, %.3f)", b[0], b[1], 4.0/fw, 3.5/fh)
		}
	})
}
