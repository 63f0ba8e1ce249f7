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
		got := PretrainTargets(torch.FromSlice(m, 1, 2, h, w), Target{Half: 0.2, Peak: PeakCell}, cfg).Float64s()
		wantX, wantY := (3+1.0/3+0.5)/w, (2+0.5)/h
		if math.Abs(got[0]-wantX) > 1e-6 || math.Abs(got[1]-wantY) > 1e-6 || math.Abs(got[2]-0.2) > 1e-6 {
			t.Fatalf("target %v, want (%.4f, %.4f, 0.2)", got, wantX, wantY)
		}
	})
}

// PeakSquare follows the mass of the response, PeakCell its single highest
// cell: a lone strong cell (clutter) against a broad weaker blob (the object).
func TestPretrainTargetsSquarePeak(t *testing.T) {
	torch.WithScope(func() {
		const h, w = 12, 12
		m := make([]float32, h*w)
		m[1*w+10] = 3 // lone peak at row 1, column 10
		for r := 5; r <= 9; r++ {
			for c := 1; c <= 5; c++ {
				m[r*w+c] = 1 // 5×5 blob centred on row 7, column 3
			}
		}
		cfg := DefaultConfig()
		cfg.Inside = false
		feat := torch.FromSlice(m, 1, 1, h, w)
		// half 0.15 of 12 cells: a 3.6-cell square, so 5×5 windows.
		cell := PretrainTargets(feat, Target{Half: 0.15, Peak: PeakCell}, cfg).Float64s()
		sq := PretrainTargets(feat, Target{Half: 0.15, Peak: PeakSquare}, cfg).Float64s()
		near := func(got []float64, c, r float64) bool {
			return math.Abs(got[0]-(c+0.5)/w) < 1e-6 && math.Abs(got[1]-(r+0.5)/h) < 1e-6
		}
		if !near(cell, 10, 1) {
			t.Errorf("cell peak %v, want the lone cell (10, 1)", cell)
		}
		if !near(sq, 3, 7) {
			t.Errorf("square peak %v, want the blob's centre (3, 7)", sq)
		}
		if math.Abs(sq[2]-0.15) > 1e-6 {
			t.Errorf("square half-side %v, want 0.15", sq[2])
		}
	})
}
