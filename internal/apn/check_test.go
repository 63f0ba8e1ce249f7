package apn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// Helpers shared by this package's tests: float64 tensors from Go slices,
// central differences, and a gradient comparison that reports the worst
// entry.

func t64(v []float64, shape ...int64) *torch.Tensor { return torch.FromSlice(v, shape...) }

func randSlice(rng *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return v
}

func normSlice(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func allIdx(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// centralDiff returns (f(x + eps e_i) − f(x − eps e_i)) / 2eps for i in idx.
// f gets a copy of x and runs in its own tensor scope.
func centralDiff(f func(x []float64) float64, x []float64, idx []int, eps float64) []float64 {
	eval := func(xs []float64) (v float64) {
		torch.WithScope(func() { v = f(xs) })
		return v
	}
	out := make([]float64, len(idx))
	xs := append([]float64(nil), x...)
	for k, i := range idx {
		xs[i] = x[i] + eps
		fp := eval(xs)
		xs[i] = x[i] - eps
		fm := eval(xs)
		xs[i] = x[i]
		out[k] = (fp - fm) / (2 * eps)
	}
	return out
}

// pick returns v[i] for i in idx.
func pick(v []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

// compareGrads fails unless |a − n| <= atol + rtol·max(|a|, |n|) for every
// entry, naming the worst one.
func compareGrads(name string, analytic, numeric []float64, rtol, atol float64) error {
	if len(analytic) != len(numeric) {
		return fmt.Errorf("%s: %d analytic vs %d numeric values", name, len(analytic), len(numeric))
	}
	worst, wi := 0.0, -1
	for i := range analytic {
		a, n := analytic[i], numeric[i]
		excess := math.Abs(a-n) / (atol + rtol*math.Max(math.Abs(a), math.Abs(n)))
		if math.IsNaN(a) || math.IsNaN(n) {
			excess = math.Inf(1)
		}
		if excess > worst {
			worst, wi = excess, i
		}
	}
	if worst > 1 {
		return fmt.Errorf("%s: entry %d: analytic %.10g vs numeric %.10g (%.3g× the tolerance)",
			name, wi, analytic[wi], numeric[wi], worst)
	}
	return nil
}

// A checker that cannot fail proves nothing: compareGrads must reject a
// gradient with one entry off by 1e-4 relative, one with a flipped sign and a
// NaN, and accept the exact one.
func TestCompareGradsCatchesWrongGradients(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	x := randSlice(rng, 5, -1, 1)
	// f(x) = Σ sin(x_i)·x_{i+1}, gradient written by hand.
	f := func(x []float64) float64 {
		s := 0.0
		for i := 0; i+1 < len(x); i++ {
			s += math.Sin(x[i]) * x[i+1]
		}
		return s
	}
	grad := make([]float64, len(x))
	for i := 0; i+1 < len(x); i++ {
		grad[i] += math.Cos(x[i]) * x[i+1]
		grad[i+1] += math.Sin(x[i])
	}
	num := centralDiff(f, x, allIdx(len(x)), 1e-6)
	if err := compareGrads("exact", grad, num, 1e-6, 1e-9); err != nil {
		t.Fatalf("exact gradient rejected: %v", err)
	}
	bad := append([]float64(nil), grad...)
	bad[2] *= 1 + 1e-4
	if compareGrads("scaled", bad, num, 1e-6, 1e-9) == nil {
		t.Fatal("a gradient with one entry 1e-4 off was accepted")
	}
	bad = append([]float64(nil), grad...)
	bad[0] = -bad[0]
	if compareGrads("sign", bad, num, 1e-6, 1e-9) == nil {
		t.Fatal("a gradient with a flipped sign was accepted")
	}
	bad[0] = math.NaN()
	if compareGrads("nan", bad, num, 1e-6, 1e-9) == nil {
		t.Fatal("a NaN gradient was accepted")
	}
}
