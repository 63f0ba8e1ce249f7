package torch

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestFromSliceRoundTrip(t *testing.T) {
	WithScope(func() {
		x := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
		if got := x.Shape(); !reflect.DeepEqual(got, []int64{2, 3}) {
			t.Fatalf("shape %v", got)
		}
		if x.DType() != Float32 || x.Device() != CPU {
			t.Fatalf("dtype %v device %v", x.DType(), x.Device())
		}
		if got := x.Transpose(0, 1).Contiguous().Float32s(); !reflect.DeepEqual(got, []float32{1, 4, 2, 5, 3, 6}) {
			t.Fatalf("transpose %v", got)
		}
		if got := Values[int64](x.MulScalar(2)); !reflect.DeepEqual(got, []int64{2, 4, 6, 8, 10, 12}) {
			t.Fatalf("int64 copy %v", got)
		}
		b := FromSlice([]uint8{0, 255}, 2)
		if got := b.Float64s(); !reflect.DeepEqual(got, []float64{0, 255}) {
			t.Fatalf("uint8 %v", got)
		}
		if got := x.Sum().Item(); got != 21 {
			t.Fatalf("sum %v", got)
		}
	})
}

func TestScopeFreesAndKeeps(t *testing.T) {
	base := Live()
	var kept *Tensor
	WithScope(func() {
		a := Ones([]int64{3})
		kept = a.AddScalar(1).Keep()
		_ = a.Exp()
		if Live() != base+3 {
			t.Fatalf("live %d, want %d", Live(), base+3)
		}
	})
	if Live() != base+1 {
		t.Fatalf("after scope live %d, want %d", Live(), base+1)
	}
	if got := kept.Float32s(); !reflect.DeepEqual(got, []float32{2, 2, 2}) {
		t.Fatalf("kept %v", got)
	}
	kept.Free()
	if Live() != base {
		t.Fatalf("after free live %d, want %d", Live(), base)
	}
	err := Try(func() { kept.Exp() })
	if err == nil || !strings.Contains(err.Error(), "freed tensor") {
		t.Fatalf("use after free: %v", err)
	}
}

func TestErrorsAreGoErrors(t *testing.T) {
	WithScope(func() {
		a := Ones([]int64{2, 3})
		b := Ones([]int64{4, 5})
		err := Try(func() { a.Matmul(b) })
		if err == nil || !IsError(err) || !strings.Contains(err.Error(), "cannot be multiplied") {
			t.Fatalf("shape mismatch: %v", err)
		}
		if strings.Contains(err.Error(), "frame #") || strings.Contains(err.Error(), "Exception raised from") {
			t.Fatalf("error carries a C++ backtrace: %v", err)
		}
		err = Try(func() { a.Sum().Backward() })
		if err == nil || !strings.Contains(err.Error(), "does not require grad") {
			t.Fatalf("backward without grad: %v", err)
		}
		// The process goes on: ops still work after errors.
		if got := a.Add(a).Sum().Item(); got != 12 {
			t.Fatalf("after errors: %v", got)
		}
	})
	if _, err := ParseDevice("tpu:3"); err == nil || !strings.Contains(err.Error(), "tpu:3") {
		t.Fatalf("unknown device: %v", err)
	}
	if _, err := ParseDevice("cpu"); err != nil {
		t.Fatal(err)
	}
}

func TestAutogradSimple(t *testing.T) {
	WithScope(func() {
		x := FromSlice([]float64{1, 2, 3}, 3).SetRequiresGrad(true)
		y := x.Mul(x).Sum()
		y.Backward()
		g := x.Grad().Float64s()
		for i, v := range []float64{2, 4, 6} {
			if math.Abs(g[i]-v) > 1e-12 {
				t.Fatalf("grad %v", g)
			}
		}
		NoGrad(func() {
			if x.Mul(x).RequiresGrad() {
				t.Fatal("no-grad mode recorded a graph")
			}
		})
	})
}

func TestZerosLikeKeepsLayout(t *testing.T) {
	WithScope(func() {
		x := Randn([]int64{2, 3, 4, 5}, WithDType(Float64), OnDevice(testDev)).ChannelsLast()
		z := ZerosLike(x)
		if !z.IsContiguous(true) || z.IsContiguous(false) {
			t.Fatal("ZerosLike of a channels-last tensor is not channels-last")
		}
		if z.DType() != Float64 || z.Device() != x.Device() || !reflect.DeepEqual(z.Shape(), x.Shape()) || z.Sum().Item() != 0 {
			t.Fatalf("ZerosLike: %v %v %v", z.DType(), z.Device(), z.Shape())
		}
		// Optimiser state follows the parameter's layout.
		p := x.Detach().SetRequiresGrad(true)
		o := NewAdam([]*ParamGroup{{Params: []*Tensor{p}, LR: 0.1}}, 0.9, 0.999, 1e-8, false, false)
		defer o.Free()
		p.Mul(p).Sum().Backward()
		o.Step()
		for k, s := range o.State() {
			if s.Dim() == 4 && !s.IsContiguous(true) {
				t.Errorf("state %s is not channels-last", k)
			}
		}
	})
	if !MallocTuned() {
		t.Logf("malloc not tuned (RACNN_MALLOC_TUNING=0, a malloc tunable set, or not glibc)")
	}
}
