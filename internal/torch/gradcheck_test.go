package torch

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// gradInput is one differentiable float64 input of a gradient check.
type gradInput struct {
	name  string
	shape []int64
	data  []float64
}

func gin(name string, data []float64, shape ...int64) gradInput {
	if prod(shape) != len(data) {
		panic(fmt.Sprintf("gradInput %s: %d values for shape %v", name, len(data), shape))
	}
	return gradInput{name, shape, data}
}

// gradTol: a derivative passes when |analytic - numeric| <= atol + rtol*|numeric|.
type gradTol struct{ eps, atol, rtol float64 }

var defaultGradTol = gradTol{eps: 1e-6, atol: 1e-6, rtol: 1e-6}

// gradCheck compares the gradient that libtorch's autograd computes for f
// with central differences (f(x+eps) - f(x-eps)) / 2eps, in float64, for
// every element of every input. f's output, of any shape, is reduced to a
// scalar by a fixed random projection sum(f(x) * r), so every output element
// counts with its own weight (a plain sum would hide, e.g., softmax's
// gradient, which sums to zero). It returns nil or an error that lists the
// worst mismatches.
func gradCheck(f func(in []*Tensor) *Tensor, inputs []gradInput, tol gradTol) error {
	var proj []float64
	var projShape []int64
	scalar := func(in []*Tensor) *Tensor {
		out := f(in)
		if proj == nil {
			projShape = out.Shape()
			proj = uniform(rand.New(rand.NewSource(7)), prod(projShape), -1, 1)
		}
		if out.DType() != Float64 {
			panic(&Error{Msg: fmt.Sprintf("gradCheck: f returns %v, want float64", out.DType())})
		}
		return out.Mul(onDev(proj, projShape...)).Sum()
	}

	// Analytic: autograd's gradient of the projected output.
	analytic := make([][]float64, len(inputs))
	var err error
	WithScope(func() {
		err = Try(func() {
			leaves := make([]*Tensor, len(inputs))
			for i, in := range inputs {
				leaves[i] = onDev(in.data, in.shape...).SetRequiresGrad(true)
			}
			scalar(leaves).Backward()
			for i, l := range leaves {
				if g := l.Grad(); g != nil {
					analytic[i] = g.Float64s()
				} else {
					analytic[i] = make([]float64, len(inputs[i].data)) // not reached: zero
				}
			}
		})
	})
	if err != nil {
		return err
	}

	// Numeric: central differences, one element at a time, without autograd.
	vals := make([][]float64, len(inputs))
	for i, in := range inputs {
		vals[i] = append([]float64(nil), in.data...)
	}
	eval := func() (v float64) {
		WithScope(func() {
			ts := make([]*Tensor, len(inputs))
			for i, in := range inputs {
				ts[i] = onDev(vals[i], in.shape...)
			}
			v = scalar(ts).Item()
		})
		return v
	}
	type miss struct {
		where         string
		analytic, num float64
		excess        float64
	}
	var misses []miss
	checked := 0
	err = Try(func() {
		NoGrad(func() {
			for i, in := range inputs {
				for j := range in.data {
					x := vals[i][j]
					vals[i][j] = x + tol.eps
					fp := eval()
					vals[i][j] = x - tol.eps
					fm := eval()
					vals[i][j] = x
					num := (fp - fm) / (2 * tol.eps)
					a := analytic[i][j]
					checked++
					if d := math.Abs(a - num); !(d <= tol.atol+tol.rtol*math.Abs(num)) {
						misses = append(misses, miss{fmt.Sprintf("%s[%d]", in.name, j), a, num, d})
					}
				}
			}
		})
	})
	if err != nil {
		return err
	}
	if len(misses) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d derivatives differ from central differences (eps %g):", len(misses), checked, tol.eps)
	worst := 0
	for k, m := range misses {
		if m.excess > misses[worst].excess {
			worst = k
		}
	}
	for k, m := range misses {
		if k < 5 || k == worst {
			fmt.Fprintf(&b, "\n  %s: autograd %.10g, numeric %.10g", m.where, m.analytic, m.num)
		}
	}
	return fmt.Errorf("%s", b.String())
}

func checkGrad(t *testing.T, f func(in []*Tensor) *Tensor, inputs ...gradInput) {
	t.Helper()
	if err := gradCheck(f, inputs, defaultGradTol); err != nil {
		t.Error(err)
	}
}

func TestGradCheckFlagsWrongGradient(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	x := gin("x", uniform(rng, 6, 0.5, 2), 2, 3)
	// x * detach(x): autograd sees x*c and reports c, the true derivative of x² is 2x.
	err := gradCheck(func(in []*Tensor) *Tensor { return in[0].Mul(in[0].Detach()) }, []gradInput{x}, defaultGradTol)
	if err == nil || !strings.Contains(err.Error(), "6 of 6 derivatives differ") {
		t.Fatalf("a gradient off by a factor of 2 was not flagged: %v", err)
	}
	// A small error, 1e-4 relative: x + 1e-4·x·detach(x) has derivative 1 + 2e-4·x, autograd says 1 + 1e-4·x.
	err = gradCheck(func(in []*Tensor) *Tensor {
		return in[0].Add(in[0].Mul(in[0].Detach()).MulScalar(1e-4))
	}, []gradInput{x}, defaultGradTol)
	if err == nil {
		t.Fatal("a gradient off by 1e-4 was not flagged")
	}
	// A missing gradient path (an input autograd never reaches) is an error too.
	y := gin("y", uniform(rng, 6, 0.5, 2), 2, 3)
	err = gradCheck(func(in []*Tensor) *Tensor { return in[0].Add(in[1].Detach()) }, []gradInput{x, y}, defaultGradTol)
	if err == nil || !strings.Contains(err.Error(), "y[") {
		t.Fatalf("a dropped gradient was not flagged: %v", err)
	}
	// And a right gradient passes.
	if err := gradCheck(func(in []*Tensor) *Tensor { return in[0].Mul(in[0]) }, []gradInput{x}, defaultGradTol); err != nil {
		t.Fatal(err)
	}
}

func TestGradConv2d(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	x := gin("x", uniform(rng, 2*3*6*5, -1, 1), 2, 3, 6, 5)
	w := gin("w", uniform(rng, 4*3*3*3, -1, 1), 4, 3, 3, 3)
	b := gin("b", uniform(rng, 4, -1, 1), 4)
	checkGrad(t, func(in []*Tensor) *Tensor {
		return Conv2d(in[0], in[1], in[2], Conv2dOpts{Stride: [2]int64{2, 1}, Padding: [2]int64{1, 2}})
	}, x, w, b)
	// groups and dilation, no bias
	x2 := gin("x", uniform(rng, 1*4*5*5, -1, 1), 1, 4, 5, 5)
	w2 := gin("w", uniform(rng, 2*2*2*2, -1, 1), 2, 2, 2, 2)
	checkGrad(t, func(in []*Tensor) *Tensor {
		return Conv2d(in[0], in[1], nil, Conv2dOpts{Padding: [2]int64{1, 1}, Dilation: [2]int64{2, 2}, Groups: 2})
	}, x2, w2)
}

func TestGradLinear(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	checkGrad(t, func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) },
		gin("x", uniform(rng, 12, -1, 1), 3, 4), gin("w", uniform(rng, 20, -1, 1), 5, 4), gin("b", uniform(rng, 5, -1, 1), 5))
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Matmul(in[1]) },
		gin("a", uniform(rng, 6, -1, 1), 2, 3), gin("b", uniform(rng, 12, -1, 1), 3, 4))
}

func TestGradInterpolateBilinear(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	x := gin("x", uniform(rng, 2*4*5, -1, 1), 1, 2, 4, 5)
	for _, sz := range [][2]int64{{7, 9}, {3, 2}, {4, 5}} { // up, down, same
		t.Run(fmt.Sprint(sz), func(t *testing.T) {
			checkGrad(t, func(in []*Tensor) *Tensor { return InterpolateBilinear(in[0], sz[0], sz[1], false, false) }, x)
			checkGrad(t, func(in []*Tensor) *Tensor { return InterpolateBilinear(in[0], sz[0], sz[1], true, false) }, x)
		})
	}
}

func TestGradGridSample(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	x := gin("x", uniform(rng, 2*2*5*6, -1, 1), 2, 2, 5, 6)
	// Beyond [-1, 1] too, where zeros padding applies.
	grid := gin("grid", uniform(rng, 2*3*4*2, -1.2, 1.2), 2, 3, 4, 2)
	checkGrad(t, func(in []*Tensor) *Tensor { return GridSample(in[0], in[1], GridBilinear, PadZeros, false) }, x, grid)
	// Crop and zoom by an affine grid: w.r.t. the image and theta.
	theta := gin("theta", []float64{0.5, 0.1, 0.2, -0.05, 0.6, -0.3, 0.7, 0, 0.1, 0, 0.4, 0.25}, 2, 2, 3)
	checkGrad(t, func(in []*Tensor) *Tensor {
		return GridSample(in[0], AffineGrid(in[1], []int64{2, 2, 4, 3}, false), GridBilinear, PadZeros, false)
	}, x, theta)
}

// boxcarMask is RA-CNN's attention mask (Fu et al. 2017, eq. 4-5): with
// h(z) = sigmoid(k z), M(x, y) = [h(x - x_tl) - h(x - x_br)]·[h(y - y_tl) - h(y - y_br)]
// where box [N, 3] = (tx, ty, tl): x_tl = tx - tl, x_br = tx + tl, likewise y.
// Pixel coordinates 0..W-1, 0..H-1. Returns [N, 1, H, W].
func boxcarMask(box *Tensor, h, w int64, k float64) *Tensor {
	n := box.Size(0)
	dev, dt := box.Device(), box.DType()
	xs := Arange(0, float64(w), 1, WithDType(dt), OnDevice(dev)).Reshape(1, 1, w)
	ys := Arange(0, float64(h), 1, WithDType(dt), OnDevice(dev)).Reshape(1, h, 1)
	tx := box.Narrow(1, 0, 1).Reshape(n, 1, 1)
	ty := box.Narrow(1, 1, 1).Reshape(n, 1, 1)
	tl := box.Narrow(1, 2, 1).Reshape(n, 1, 1)
	hk := func(z *Tensor) *Tensor { return z.MulScalar(k).Sigmoid() }
	mx := hk(xs.Sub(tx.Sub(tl))).Sub(hk(xs.Sub(tx.Add(tl))))
	my := hk(ys.Sub(ty.Sub(tl))).Sub(hk(ys.Sub(ty.Add(tl))))
	return mx.Mul(my).Unsqueeze(1)
}

func TestGradBoxcarMask(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	box := gin("box", []float64{3.3, 4.1, 2.2, 5.6, 2.7, 1.6}, 2, 3)
	checkGrad(t, func(in []*Tensor) *Tensor { return boxcarMask(in[0], 8, 9, 1) }, box)
	checkGrad(t, func(in []*Tensor) *Tensor { return boxcarMask(in[0], 8, 9, 10) }, box)
	// The attended image x ⊙ M, w.r.t. image and box.
	img := gin("img", uniform(rng, 2*2*8*9, -1, 1), 2, 2, 8, 9)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Mul(boxcarMask(in[1], 8, 9, 2)) }, img, box)
}

func TestGradLossesAndSoftmax(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	logits := gin("logits", uniform(rng, 20, -3, 3), 5, 4)
	target := []int64{0, 3, 1, 1, 2}
	tgt := func() *Tensor { return onDev(target, 5) }
	checkGrad(t, func(in []*Tensor) *Tensor { return NLLLoss(in[0].LogSoftmax(1), tgt(), ReduceMean) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return NLLLoss(in[0].LogSoftmax(1), tgt(), ReduceNone) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return CrossEntropy(in[0], tgt(), ReduceSum, 0) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return CrossEntropy(in[0], tgt(), ReduceMean, 0.1) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Softmax(1) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Softmax(0) }, logits)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].LogSoftmax(0) }, logits)
}

func TestGradNormalizeBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	x := gin("x", uniform(rng, 3*4*2, -1, 1), 3, 4, 2)
	checkGrad(t, func(in []*Tensor) *Tensor { return Normalize(in[0], 2, 1, 1e-12) }, x)
	checkGrad(t, func(in []*Tensor) *Tensor { return Normalize(in[0], 2, 2, 1e-12) }, x)

	bx := gin("x", uniform(rng, 4*3*2*2, -2, 3), 4, 3, 2, 2)
	wt := gin("weight", uniform(rng, 3, 0.5, 1.5), 3)
	bs := gin("bias", uniform(rng, 3, -1, 1), 3)
	checkGrad(t, func(in []*Tensor) *Tensor { return BatchNorm(in[0], in[1], in[2], nil, nil, true, 0.1, 1e-5) }, bx, wt, bs)
	// With running statistics updated in place along the way: the same gradient.
	checkGrad(t, func(in []*Tensor) *Tensor {
		rm, rv := Zeros([]int64{3}, WithDType(Float64), OnDevice(testDev)), Ones([]int64{3}, WithDType(Float64), OnDevice(testDev))
		return BatchNorm(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5)
	}, bx, wt, bs)
	// Eval mode with fixed statistics.
	checkGrad(t, func(in []*Tensor) *Tensor {
		rm, rv := onDev([]float64{0.1, -0.2, 0.3}, 3), onDev([]float64{0.5, 1.5, 2}, 3)
		return BatchNorm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-5)
	}, bx, wt, bs)
}

func TestGradPooling(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	// Distinct random values: no ties within eps for max pooling.
	x := gin("x", uniform(rng, 2*2*7*6, -1, 1), 2, 2, 7, 6)
	checkGrad(t, func(in []*Tensor) *Tensor { return MaxPool2d(in[0], [2]int64{2, 2}, [2]int64{}, [2]int64{}, false) }, x)
	checkGrad(t, func(in []*Tensor) *Tensor {
		return MaxPool2d(in[0], [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1}, true)
	}, x)
	checkGrad(t, func(in []*Tensor) *Tensor {
		return AvgPool2d(in[0], [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1}, false)
	}, x)
	checkGrad(t, func(in []*Tensor) *Tensor { return AdaptiveAvgPool2d(in[0], 3, 2) }, x)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].MeanDims([]int64{2, 3}, false) }, x)
	checkGrad(t, func(in []*Tensor) *Tensor { return in[0].AmaxDims([]int64{3}, true) }, x)
}

func TestGradElementwise(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	x := gin("x", uniform(rng, 12, -2, 2), 3, 4)
	pos := gin("p", uniform(rng, 12, 0.3, 2), 3, 4)
	y := gin("y", uniform(rng, 4, -1.5, 1.5), 4)
	for name, f := range map[string]func(in []*Tensor) *Tensor{
		"tanh":     func(in []*Tensor) *Tensor { return in[0].Tanh() },
		"exp":      func(in []*Tensor) *Tensor { return in[0].Exp() },
		"sigmoid":  func(in []*Tensor) *Tensor { return in[0].Sigmoid() },
		"square":   func(in []*Tensor) *Tensor { return in[0].Square() },
		"powscal":  func(in []*Tensor) *Tensor { return in[0].PowScalar(3) },
		"mul-div":  func(in []*Tensor) *Tensor { return in[0].Mul(in[0]).Div(in[0].Exp().AddScalar(1)) },
		"clamp":    func(in []*Tensor) *Tensor { return in[0].Clamp(-1.01, 1.03) },
		"rsub-sum": func(in []*Tensor) *Tensor { return in[0].RSub(2).SumDims([]int64{0}, false) },
	} {
		t.Run(name, func(t *testing.T) { checkGrad(t, f, x) })
	}
	t.Run("pow", func(t *testing.T) {
		// x^y with broadcasting, w.r.t. base and exponent.
		checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Pow(in[1]) }, pos, y)
	})
	t.Run("log-sqrt-rdiv", func(t *testing.T) {
		checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Log().Add(in[0].Sqrt()).Add(in[0].RDiv(1.5)) }, pos)
	})
	t.Run("relu", func(t *testing.T) {
		// Away from the kink at 0.
		v := uniform(rng, 12, 0.05, 1)
		for i := range v {
			if i%2 == 0 {
				v[i] = -v[i]
			}
		}
		checkGrad(t, func(in []*Tensor) *Tensor { return in[0].Relu() }, gin("x", v, 3, 4))
		// In place on a fresh activation: the same gradient through x·2.
		checkGrad(t, func(in []*Tensor) *Tensor { return in[0].MulScalar(2).ReluInPlace() }, gin("x", v, 3, 4))
	})
}
