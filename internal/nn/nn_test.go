package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

func TestLinearAndStoreLoad(t *testing.T) {
	torch.ManualSeed(1)
	base := torch.Live()
	s := NewStore(torch.CPU)
	l := NewLinear(s, "fc", 3, 2, true, nil, nil)
	if got := s.Names(); strings.Join(got, ",") != "fc.weight,fc.bias" {
		t.Fatalf("names %v", got)
	}
	if !l.W.RequiresGrad() || torch.Live() != base+2 {
		t.Fatalf("params: requires grad %v, live %d (want %d)", l.W.RequiresGrad(), torch.Live(), base+2)
	}
	// PyTorch's default init bound for fan_in 3 is 1/sqrt(3).
	for _, v := range l.W.Float64s() {
		if math.Abs(v) > 1/math.Sqrt(3) {
			t.Fatalf("init %v out of bound", v)
		}
	}
	torch.WithScope(func() {
		err := s.Load(map[string]*torch.Tensor{
			"fc.weight": torch.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3),
			"fc.bias":   torch.FromSlice([]float32{0.5, -1}, 2),
		}, true)
		if err != nil {
			t.Fatal(err)
		}
		y := l.Forward(torch.FromSlice([]float32{1, 1, 1}, 1, 3)).Float64s()
		if y[0] != 6.5 || y[1] != 14 {
			t.Fatalf("forward %v", y)
		}
		err = s.Load(map[string]*torch.Tensor{"fc.weight": torch.Zeros([]int64{3, 3}), "fc.extra": torch.Zeros(nil)}, true)
		for _, want := range []string{"missing keys: fc.bias", "unexpected keys: fc.extra", "mis-shaped keys: fc.weight (file [3 3], model [2 3])"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("load error %v, want %q", err, want)
			}
		}
	})
	s.Free()
	if torch.Live() != base {
		t.Fatalf("live %d after Free, want %d", torch.Live(), base)
	}
}

func TestBatchNormTracksStatistics(t *testing.T) {
	s := NewStore(torch.CPU)
	defer s.Free()
	bn := NewBatchNorm2d(s, "bn", 2)
	torch.WithScope(func() {
		x := torch.FromSlice([]float32{1, 3, 1, 3, 10, 10, 10, 10}, 1, 2, 2, 2)
		y := bn.Forward(x, true).Float64s()
		if math.Abs(y[0]+1) > 1e-3 || math.Abs(y[1]-1) > 1e-3 || math.Abs(y[4]) > 1e-3 {
			t.Fatalf("normalised %v", y)
		}
		if m := bn.Mean.Float64s(); math.Abs(m[0]-0.2) > 1e-6 || math.Abs(m[1]-1) > 1e-6 {
			t.Fatalf("running mean %v", m)
		}
		if bn.Count.Item() != 1 {
			t.Fatalf("count %v", bn.Count.Item())
		}
	})
}
