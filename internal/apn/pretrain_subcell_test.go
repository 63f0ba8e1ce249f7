package apn

import (
	"math"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// The peak is located below the cell size: a neighbour half as strong as
// the peak pulls the centre a third of a cell towards it.
func TestPretrainTargetsSubcellPeak(t *testing.T) {
	torch.WithScope(func() {
		const h, w = 6, 8
		m := make([]float32, 2*h*w) // 2 channels
		for ch := 0; ch < 2; ch++ {
			m[ch*h*w+2*w+3] = 1   // peak at row 2, column 3
			m[ch*h*w+2*w+4] = 0.5 // its right neighbour
		}
		cfg := DefaultConfig()
		cfg.Inside = false
		got := PretrainTargets(torch.FromSlice(m, 1, 2, h, w), 0.2, cfg).Float64s()
		wantX, wantY := (3+1.0/3+0.5)/w, (2+0.5)/h
		if math.Abs(got[0]-wantX) > 1e-6 || math.Abs(got[1]-wantY) > 1e-6 || math.Abs(got[2]-0.2) > 1e-6 {
			t.Fatalf("target %v, want (%.4f, %.4f, 0.2)", got, wantX, wantY)
		}
	})
}
