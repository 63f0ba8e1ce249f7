package torch

import (
	"math"
	"strings"
	"testing"
)

// autocastDType is the low-precision type the test device autocasts to.
func autocastDType() DType {
	if testDev.IsCUDA() {
		return Float16
	}
	return BFloat16
}

// Under Autocast, convolutions and linear layers run in the low-precision
// type on float32 weights; WithoutAutocast regions run in their inputs'
// dtype; the state is restored on the way out, nested regions included,
// and the weights' grads are float32.
func TestAutocastDTypes(t *testing.T) {
	WithScope(func() {
		low := autocastDType()
		x := Rand([]int64{2, 3, 8, 8}, OnDevice(testDev))
		w := Rand([]int64{4, 3, 3, 3}, OnDevice(testDev)).SetRequiresGrad(true)
		lw := Rand([]int64{5, 4}, OnDevice(testDev)).SetRequiresGrad(true)
		lw2 := Rand([]int64{3, 5}, OnDevice(testDev))
		if AutocastEnabled(testDev) {
			t.Fatal("autocast on before any region")
		}
		var y, inner, innerConv, nested, after *Tensor
		Autocast(testDev, low, func() {
			if !AutocastEnabled(testDev) {
				t.Fatal("autocast off inside Autocast")
			}
			y = Linear(Conv2d(x, w, nil, Conv2dOpts{Padding: [2]int64{1, 1}}).MeanDims([]int64{2, 3}, false), lw, nil)
			WithoutAutocast(func() {
				if AutocastEnabled(testDev) {
					t.Fatal("autocast on inside WithoutAutocast")
				}
				inner = Linear(y.Widen(), lw2, nil)
				innerConv = Conv2d(x, w, nil, Conv2dOpts{})
			})
			Autocast(testDev, low, func() { nested = Linear(y, lw2, nil) })
			if !AutocastEnabled(testDev) {
				t.Fatal("a nested Autocast turned autocast off for the outer region")
			}
			after = Conv2d(x, w, nil, Conv2dOpts{})
		})
		if AutocastEnabled(testDev) {
			t.Fatal("autocast still on after the region")
		}
		for _, c := range []struct {
			name string
			got  *Tensor
			want DType
		}{{"linear(conv) under autocast", y, low}, {"linear without autocast on float32", inner, Float32},
			{"conv without autocast", innerConv, Float32}, {"nested linear", nested, low}, {"conv after WithoutAutocast", after, low}} {
			if d := c.got.DType(); d != c.want {
				t.Errorf("%s: %v, want %v", c.name, d, c.want)
			}
		}
		plain := Linear(x.MeanDims([]int64{2, 3}, false), Rand([]int64{5, 3}, OnDevice(testDev)), nil)
		if plain.DType() != Float32 {
			t.Errorf("linear after the region: %v, want float32", plain.DType())
		}
		y.Widen().Sum().Backward()
		for name, p := range map[string]*Tensor{"conv weight": w, "linear weight": lw} {
			if g := p.Grad(); g == nil || g.DType() != Float32 {
				t.Errorf("%s grad: %v, want a float32 grad", name, g)
			}
		}
	})
}

// A panic inside the region (an op error) still restores the state.
func TestAutocastRestoresOnPanic(t *testing.T) {
	err := Try(func() {
		Autocast(testDev, autocastDType(), func() {
			WithScope(func() { Rand([]int64{2, 3}).Matmul(Rand([]int64{2, 3})) })
		})
	})
	if err == nil {
		t.Fatal("a bad matmul did not fail")
	}
	if AutocastEnabled(testDev) {
		t.Fatal("autocast still on after a panic in the region")
	}
}

func TestAutocastFloat16OnCPURefused(t *testing.T) {
	err := Try(func() { Autocast(CPU, Float16, func() { t.Fatal("ran") }) })
	if err == nil || !strings.Contains(err.Error(), "float16 autocast needs a CUDA device") {
		t.Fatalf("err = %v", err)
	}
	if AutocastEnabled(CPU) {
		t.Fatal("autocast left on")
	}
}

// GradScaler on float32 grads, as PyTorch's: a step whose grads hold an
// inf is reported (and must be skipped), the scale halves and the growth
// count restarts; clean steps unscale the grads exactly and after
// GrowthInterval of them the scale doubles.
func TestGradScaler(t *testing.T) {
	WithScope(func() {
		s := NewGradScaler()
		if s.Scale != 65536 || s.GrowthFactor != 2 || s.BackoffFactor != 0.5 || s.GrowthInterval != 2000 {
			t.Fatalf("defaults %+v, want PyTorch's 65536, 2, 0.5, 2000", *s)
		}
		s.GrowthInterval = 3
		p := onDev([]float32{1, 2, 3}, 3).SetRequiresGrad(true)
		q := onDev([]float32{4, 5}, 2).SetRequiresGrad(true)
		params := []*Tensor{p, q, onDev([]float32{0}, 1).SetRequiresGrad(true)} // the last has no grad
		step := func(poison bool) (bool, []float32) {
			ZeroGrad(params, true)
			loss := p.Square().Sum().Add(q.MulScalar(3).Sum())
			if poison {
				loss = loss.Add(q.Narrow(0, 1, 1).MulScalar(math.Inf(1)).Sum())
			}
			s.ScaleLoss(loss).Backward()
			inf := s.Unscale(params)
			s.Update(inf)
			return inf, append(p.Grad().Float32s(), q.Grad().Float32s()...)
		}
		inf, g := step(false)
		if inf || s.Scale != 65536 || s.GrowthTracker != 1 {
			t.Fatalf("clean step: inf %v, scale %v, tracker %d", inf, s.Scale, s.GrowthTracker)
		}
		for i, want := range []float32{2, 4, 6, 3, 3} {
			if g[i] != want {
				t.Fatalf("unscaled grads %v, want [2 4 6 3 3]", g)
			}
		}
		if inf, _ = step(true); !inf || s.Scale != 32768 || s.GrowthTracker != 0 {
			t.Fatalf("inf step: inf %v, scale %v, tracker %d; want skipped, 32768, 0", inf, s.Scale, s.GrowthTracker)
		}
		for i := 0; i < 2; i++ {
			if inf, _ = step(false); inf {
				t.Fatal("clean step after backoff reported inf")
			}
		}
		if s.Scale != 32768 || s.GrowthTracker != 2 {
			t.Fatalf("after 2 clean steps: scale %v, tracker %d", s.Scale, s.GrowthTracker)
		}
		step(false)
		if s.Scale != 65536 || s.GrowthTracker != 0 {
			t.Fatalf("after 3 clean steps: scale %v, tracker %d; want grown to 65536", s.Scale, s.GrowthTracker)
		}
		// A scale whose growth would overflow float32 stays.
		s.Scale, s.GrowthTracker = math.MaxFloat32, 2
		s.Update(false)
		if s.Scale != math.MaxFloat32 {
			t.Fatalf("grown past float32: %v", s.Scale)
		}
		// NaN grads count as well as infs.
		ZeroGrad(params, true)
		p.MulScalar(math.NaN()).Sum().Backward()
		if !s.Unscale(params) {
			t.Fatal("NaN grads not reported")
		}
		if err := (&GradScaler{Scale: 1, GrowthFactor: 2, BackoffFactor: 0.5}).Validate(); err == nil {
			t.Fatal("interval 0 accepted")
		}
	})
}

// InferenceMode records no graph, restores grad mode after, and its
// tensors are inference tensors.
func TestInferenceMode(t *testing.T) {
	WithScope(func() {
		w := Rand([]int64{3, 3}, OnDevice(testDev)).SetRequiresGrad(true)
		var y *Tensor
		InferenceMode(func() {
			if GradEnabled() {
				t.Error("grad mode on in inference mode")
			}
			y = w.Matmul(w)
		})
		if !GradEnabled() {
			t.Fatal("grad mode not restored")
		}
		if y.RequiresGrad() {
			t.Fatal("inference-mode output requires grad")
		}
	})
}
