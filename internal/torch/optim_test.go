package torch

import (
	"math"
	"path/filepath"
	"testing"
)

// optProblem is the tiny regression of scripts/golden_binding.py:
//
//	y = linear(tanh(linear(x, w1, b1)), w2) [+ extra on extra steps]
//	loss = (y - target).square().mean()
type optProblem struct {
	x, target *Tensor
	extra     map[int]bool
}

var paramNames = []string{"w1", "b1", "w2", "extra"}

func newOptProblem(g *goldenFile) *optProblem {
	p := &optProblem{x: g.Optim.X.tensor().Keep(), target: g.Optim.Target.tensor().Keep(), extra: map[int]bool{}}
	for _, s := range g.Optim.ExtraSteps {
		p.extra[s] = true
	}
	return p
}

func (p *optProblem) free() { p.x.Free(); p.target.Free() }

func (p *optProblem) loss(ps map[string]*Tensor, step int) *Tensor {
	y := Linear(Linear(p.x, ps["w1"], ps["b1"]).Tanh(), ps["w2"], nil)
	if p.extra[step] {
		y = y.Add(ps["extra"])
	}
	return y.Sub(p.target).Square().Mean()
}

// step runs one training step (1-based) and returns the loss.
func (p *optProblem) step(o Optimizer, ps map[string]*Tensor, step int) float64 {
	var l float64
	WithScope(func() {
		o.ZeroGrad()
		loss := p.loss(ps, step)
		loss.Backward()
		o.Step()
		l = loss.Item()
	})
	return l
}

func initParams(g *goldenFile) map[string]*Tensor {
	ps := map[string]*Tensor{}
	for _, n := range paramNames {
		ps[n] = g.Optim.Init[n].tensor().Keep().SetRequiresGrad(true)
	}
	return ps
}

func freeParams(ps map[string]*Tensor) {
	for _, t := range ps {
		t.Free()
	}
}

func newOptimizer(r goldenOptimRun, ps map[string]*Tensor) Optimizer {
	groups := []*ParamGroup{
		{Name: "a", Params: []*Tensor{ps["w1"], ps["b1"]}, LR: r.Groups[0].LR, WeightDecay: r.Groups[0].WeightDecay},
		{Name: "b", Params: []*Tensor{ps["w2"], ps["extra"]}, LR: r.Groups[1].LR, WeightDecay: r.Groups[1].WeightDecay},
	}
	c := r.Config
	if r.Kind == "sgd" {
		return NewSGD(groups, c["momentum"].(float64), c["dampening"].(float64), c["nesterov"].(bool))
	}
	betas := c["betas"].([]any)
	return NewAdam(groups, betas[0].(float64), betas[1].(float64), c["eps"].(float64), r.Kind == "adamw",
		c["amsgrad"].(bool))
}

// TestOptimizersMatchPyTorch replays torch.optim.SGD/Adam/AdamW (foreach=False)
// trajectories: 5 steps, 2 groups with their own LR and weight decay, and a
// parameter with no grad on steps 1 and 3.
func TestOptimizersMatchPyTorch(t *testing.T) {
	g := loadGolden(t)
	if len(g.Optim.Runs) < 7 {
		t.Fatalf("fixture has %d optimiser runs", len(g.Optim.Runs))
	}
	prob := newOptProblem(g)
	defer prob.free()
	for _, r := range g.Optim.Runs {
		t.Run(r.Name, func(t *testing.T) {
			ps := initParams(g)
			defer freeParams(ps)
			o := newOptimizer(r, ps)
			defer o.Free()
			for s := 1; s <= len(r.Params); s++ {
				l := prob.step(o, ps, s)
				if math.Abs(l-r.Losses[s-1]) > 1e-6*math.Max(1, math.Abs(r.Losses[s-1])) {
					t.Errorf("step %d: loss %.9g, PyTorch %.9g", s, l, r.Losses[s-1])
				}
				for _, n := range paramNames {
					if err := closeTo(ps[n].Float64s(), r.Params[s-1][n], 1e-6, 1e-6); err != nil {
						t.Errorf("step %d: %s: %v", s, n, err)
					}
				}
				if s == 1 && !equalF64(ps["extra"].Float64s(), g.Optim.Init["extra"].Data) {
					t.Errorf("step 1: extra has no grad but moved")
				}
			}
		})
	}
}

func equalF64(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOptimizerStateResume checks that state saved with State (through a
// file written by SaveTensors) and restored with LoadState into a fresh
// optimiser continues exactly as an uninterrupted run, bit for bit.
func TestOptimizerStateResume(t *testing.T) {
	g := loadGolden(t)
	prob := newOptProblem(g)
	defer prob.free()
	const split, total = 3, 7
	for _, r := range g.Optim.Runs {
		if r.Name == "sgd plain weight decay" {
			continue // no state
		}
		t.Run(r.Name, func(t *testing.T) {
			extra := prob.extra
			prob.extra = map[int]bool{2: true, 4: true, 5: true, 7: true} // no grad on 1, 3 and 6
			defer func() { prob.extra = extra }()

			ref := initParams(g)
			defer freeParams(ref)
			o := newOptimizer(r, ref)
			defer o.Free()
			for s := 1; s <= total; s++ {
				prob.step(o, ref, s)
			}

			ps := initParams(g)
			defer freeParams(ps)
			o1 := newOptimizer(r, ps)
			for s := 1; s <= split; s++ {
				prob.step(o1, ps, s)
			}
			path := filepath.Join(t.TempDir(), "optim.pt")
			WithScope(func() {
				st := o1.State()
				if len(st) == 0 {
					t.Fatal("empty optimiser state")
				}
				if err := SaveTensors(path, st); err != nil {
					t.Fatal(err)
				}
			})
			o1.Free()
			// A fresh process would rebuild the parameters from a checkpoint:
			// fresh tensors with the same values.
			resumed := map[string]*Tensor{}
			WithScope(func() {
				for n, p := range ps {
					resumed[n] = p.Detach().Clone().Keep().SetRequiresGrad(true)
				}
			})
			defer freeParams(resumed)
			o2 := newOptimizer(r, resumed)
			defer o2.Free()
			WithScope(func() {
				st, err := LoadTensors(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := o2.LoadState(st); err != nil {
					t.Fatal(err)
				}
			})
			for s := split + 1; s <= total; s++ {
				prob.step(o2, resumed, s)
			}
			for _, n := range paramNames {
				a, b := ref[n].Float32s(), resumed[n].Float32s()
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("%s[%d]: resumed %.9g, uninterrupted %.9g", n, i, b[i], a[i])
					}
				}
			}
		})
	}
}

func TestOptimizerLoadStateRejectsMismatch(t *testing.T) {
	WithScope(func() {
		p := Zeros([]int64{2, 3}).Keep().SetRequiresGrad(true)
		defer p.Free()
		o := NewAdam([]*ParamGroup{{Name: "a", Params: []*Tensor{p}, LR: 0.1}}, 0.9, 0.999, 1e-8, false, false)
		defer o.Free()
		err := o.LoadState(map[string]*Tensor{
			"a.0.step": FromSlice([]int64{3}), "a.0.exp_avg": Zeros([]int64{3, 2}), "a.0.exp_avg_sq": Zeros([]int64{2, 3}),
		})
		if err == nil {
			t.Fatal("wrong-shaped exp_avg accepted")
		}
		err = o.LoadState(map[string]*Tensor{"b.0.step": FromSlice([]int64{3})})
		if err == nil {
			t.Fatal("state of another parameter accepted")
		}
		s := NewSGD([]*ParamGroup{{Params: []*Tensor{p}, LR: 0.1}, {LR: 0.1}}, 0.9, 0, false)
		defer s.Free()
		s.Step() // an empty group and a parameter without grad: nothing to do
	})
}
