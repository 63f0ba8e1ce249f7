package apn

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// Golden test against PyTorch 1.13: testdata/golden_crop.json is written by
// scripts/golden_apn.py, an independent PyTorch implementation of the crop
// (grid from F.affine_grid, mask on the full sampled grid in pixels):
//
//	theta = [[2 t_l S/W, 0, 2 t_x − 1], [0, 2 t_l S/H, 2 t_y − 1]]
//	grid = F.affine_grid(theta, (n, c, out_h, out_w), align_corners=False)
//	sampled = F.grid_sample(src, grid, "bilinear", padding, align_corners=False)
//	x = (grid[..., 0] + 1)·W/2; y = (grid[..., 1] + 1)·H/2
//	h(z) = sigmoid(k z / S)
//	M = (h(x − x_tl) − h(x − x_br))·(h(y − y_tl) − h(y − y_br))
//	out = sampled·M[:, None]
//
// with theta built from boxes.detach() in boxcar mode. Values and gradients
// (of Σ out·R) must match to 1e-5.

type goldenCase struct {
	Name      string    `json:"name"`
	Mode      string    `json:"mode"`
	Padding   string    `json:"padding"`
	K         float64   `json:"k"`
	SrcShape  []int64   `json:"src_shape"`
	Src       []float64 `json:"src"`
	Boxes     []float64 `json:"boxes"`
	OutH      int64     `json:"out_h"`
	OutW      int64     `json:"out_w"`
	Out       []float64 `json:"out"`
	Weights   []float64 `json:"weights"`
	GradSrc   []float64 `json:"grad_src"`
	GradBoxes []float64 `json:"grad_boxes"`
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

func TestCropGoldenPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden_crop.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct{ Cases []goldenCase }
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) < 4 {
		t.Fatalf("%d cases in the fixture", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		cfg := DefaultConfig()
		cfg.Mode, cfg.Padding, cfg.K, cfg.Inside = c.Mode, c.Padding, c.K, false
		n := c.SrcShape[0]
		torch.WithScope(func() {
			src := t64(c.Src, c.SrcShape...).SetRequiresGrad(true)
			boxes := t64(c.Boxes, n, 3).SetRequiresGrad(true)
			out := Crop(src, boxes, c.OutH, c.OutW, cfg)
			out.Mul(t64(c.Weights, out.Shape()...)).Sum().Backward()
			for _, chk := range []struct {
				what      string
				got, want []float64
			}{
				{"out", out.Float64s(), c.Out},
				{"grad src", src.Grad().Float64s(), c.GradSrc},
				{"grad boxes", boxes.Grad().Float64s(), c.GradBoxes},
			} {
				if err := compareGrads(c.Name+" "+chk.what, chk.got, chk.want, 1e-5, 1e-5); err != nil {
					t.Error(err)
				}
				t.Logf("%s %s: max |Go − PyTorch| = %.2g", c.Name, chk.what, maxAbsDiff(chk.got, chk.want))
			}
		})
	}
}
