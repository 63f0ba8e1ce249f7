package transform

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/racnn/racnn/internal/data"
)

// TestMatchesPillow compares Render with Pillow's bilinear resize
// (testdata/pil_resize.json, written by scripts/gen_resize_golden.py). Pillow
// rounds to 8 bits between its two passes and at the end; Render does not,
// so they may differ by about one grey level, never more.
func TestMatchesPillow(t *testing.T) {
	raw, err := os.ReadFile("testdata/pil_resize.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		W, H  int
		Pix   []uint8
		Cases []struct {
			W, H int
			Box  [4]float64
			Out  []uint8
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	img := &data.Image{W: g.W, H: g.H, Pix: g.Pix}
	for _, c := range g.Cases {
		v := NewView(g.W, g.H)
		v.X0, v.Y0 = c.Box[0], c.Box[1]
		v.WinW, v.WinH = c.Box[2]-c.Box[0], c.Box[3]-c.Box[1]
		v = v.Resize(c.W, c.H)
		dst := make([]float32, 3*c.W*c.H)
		if err := v.Render(img, unit, dst); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for y := 0; y < c.H; y++ {
			for x := 0; x < c.W; x++ {
				for ch := 0; ch < 3; ch++ {
					got := float64(dst[ch*c.W*c.H+y*c.W+x]) * 255
					want := float64(c.Out[(y*c.W+x)*3+ch])
					worst = max(worst, math.Abs(got-want))
				}
			}
		}
		if worst > 1.05 {
			t.Errorf("%d×%d from box %v: differs from Pillow by up to %.2f grey levels", c.W, c.H, c.Box, worst)
		} else {
			t.Logf("%d×%d from box %v: max difference from Pillow %.2f", c.W, c.H, c.Box, worst)
		}
	}
}
