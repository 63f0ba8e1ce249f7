package apn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// FromUnit maps the whole open cube, extremes included, to boxes inside the
// image with half-sides in range, on square and non-square images, and
// ToUnit inverts it.
func TestFromUnitRangeAndInverse(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, size := range [][2]float64{{1, 1}, {96, 64}, {64, 96}} {
		w, h := size[0], size[1]
		for _, inside := range []bool{true, false} {
			cfg := DefaultConfig()
			cfg.Inside = inside
			var u []float64
			for _, e := range [][3]float64{{0, 0, 0}, {1, 1, 1}, {0, 1, 1}, {1, 0, 0}, {0.5, 0.5, 0.5}} {
				u = append(u, e[:]...)
			}
			u = append(u, randSlice(rng, 3*50, 0, 1)...)
			var boxes []float64
			torch.WithScope(func() { boxes = FromUnit(t64(u, int64(len(u)/3), 3), w, h, cfg).Float64s() })
			s := math.Min(w, h)
			for i := 0; i < len(u)/3; i++ {
				b := [3]float64{boxes[3*i], boxes[3*i+1], boxes[3*i+2]}
				if b[2] < cfg.MinHalf-1e-12 || b[2] > cfg.MaxHalf+1e-12 {
					t.Fatalf("u %v: half-side %v outside [%v, %v]", u[3*i:3*i+3], b[2], cfg.MinHalf, cfg.MaxHalf)
				}
				px := ToPixels([]float32{float32(b[0]), float32(b[1]), float32(b[2])}, int(w), int(h))[0]
				if inside && (px[0] < -1e-4*s || px[1] < -1e-4*s || px[2] > w+1e-4*s || px[3] > h+1e-4*s) {
					t.Fatalf("%vx%v u %v: box %v leaves the image (pixels %v)", w, h, u[3*i:3*i+3], b, px)
				}
				if !inside && (math.Abs(b[0]-u[3*i]) > 1e-12 || math.Abs(b[1]-u[3*i+1]) > 1e-12) {
					t.Fatalf("without Inside the centre is u itself: %v from %v", b, u[3*i:3*i+3])
				}
				back := ToUnit(b, w, h, cfg)
				// A box as long as the image along an axis has one centre: u is
				// not recoverable there.
				span := [3]float64{1 - 2*b[2]*s/w, 1 - 2*b[2]*s/h, 1}
				for j := range back {
					if (!inside || span[j] > 1e-9) && math.Abs(back[j]-u[3*i+j]) > 1e-9 {
						t.Fatalf("%vx%v inside=%v: ToUnit(FromUnit(%v)) = %v", w, h, inside, u[3*i:3*i+3], back)
					}
				}
			}
			// u at its extremes puts an Inside box flush with the corners.
			if inside {
				px := ToPixels([]float32{float32(boxes[0]), float32(boxes[1]), float32(boxes[2])}, int(w), int(h))[0]
				if math.Abs(px[0]) > 1e-5*s || math.Abs(px[1]) > 1e-5*s {
					t.Fatalf("u = 0 gives pixels %v, want the top-left corner", px)
				}
			}
		}
	}
}

func TestToPixels(t *testing.T) {
	got := ToPixels([]float32{0.5, 0.5, 0.25, 0.25, 0.75, 0.125}, 96, 64)
	want := [][4]float64{{32, 16, 64, 48}, {16, 40, 32, 56}}
	for i := range want {
		for j := range want[i] {
			if math.Abs(got[i][j]-want[i][j]) > 1e-5 {
				t.Fatalf("ToPixels box %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Mode = "stn" },
		func(c *Config) { c.Padding = "reflect" },
		func(c *Config) { c.K = 0 },
		func(c *Config) { c.K = math.Inf(1) },
		func(c *Config) { c.MinHalf = 0 },
		func(c *Config) { c.MinHalf, c.MaxHalf = 0.4, 0.3 },
		func(c *Config) { c.MaxHalf = 0.6 },
		func(c *Config) { c.InitHalf = 0.05 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("bad config %d accepted: %+v", i, c)
		}
	}
	c := DefaultConfig()
	c.Inside, c.MaxHalf = false, 0.8
	if err := c.Validate(); err != nil {
		t.Errorf("max_half 0.8 without inside: %v", err)
	}
}

// Compose: cropping the crop equals cropping the source with the composed
// box. On the ramp image bilinear sampling is exact, so the two agree to
// rounding (with K large, so both masks are 1).
func TestComposeCropOfCrop(t *testing.T) {
	const h, w = 64, 96
	outer := []float64{0.45, 0.55, 0.3, 0.6, 0.4, 0.42}
	inner := []float64{0.62, 0.35, 0.2, 0.3, 0.66, 0.25}
	cfg := sharp()
	for _, mode := range []string{ModeBoxcar, ModeGrid} {
		cfg.Mode = mode
		torch.WithScope(func() {
			src := t64(ramp(2, 1, h, w), 2, 1, h, w)
			first := Crop(src, t64(outer, 2, 3), 48, 48, cfg)
			twice := Crop(first, t64(inner, 2, 3), 16, 16, cfg).Float64s()
			composed := Compose(t64(outer, 2, 3), t64(inner, 2, 3), w, h)
			once := Crop(src, composed, 16, 16, cfg).Float64s()
			closeAll(t, mode, twice, once, 1e-9)
			// The composed box in pixels: the inner box's pixels inside the
			// outer crop, scaled by the zoom and offset by the outer corner.
			cb := composed.Float64s()
			for i := 0; i < 2; i++ {
				o := ToPixels([]float32{float32(outer[3*i]), float32(outer[3*i+1]), float32(outer[3*i+2])}, w, h)[0]
				in := ToPixels([]float32{float32(inner[3*i]), float32(inner[3*i+1]), float32(inner[3*i+2])}, 48, 48)[0]
				zoom := (o[2] - o[0]) / 48
				got := ToPixels([]float32{float32(cb[3*i]), float32(cb[3*i+1]), float32(cb[3*i+2])}, w, h)[0]
				want := [4]float64{o[0] + zoom*in[0], o[1] + zoom*in[1], o[0] + zoom*in[2], o[1] + zoom*in[3]}
				for j := range want {
					if math.Abs(got[j]-want[j]) > 1e-3 {
						t.Fatalf("composed box %d in pixels %v, want %v", i, got, want)
					}
				}
			}
		})
	}
}

// Compose is differentiable with respect to both boxes.
func TestComposeGrad(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	outer := []float64{0.45, 0.55, 0.3, 0.6, 0.4, 0.42}
	inner := []float64{0.62, 0.35, 0.2, 0.3, 0.66, 0.25}
	r := normSlice(rng, 6)
	f := func(o, i []float64) float64 {
		return Compose(t64(o, 2, 3), t64(i, 2, 3), 96, 64).Mul(t64(r, 2, 3)).Sum().Item()
	}
	var gO, gI []float64
	torch.WithScope(func() {
		o := t64(outer, 2, 3).SetRequiresGrad(true)
		i := t64(inner, 2, 3).SetRequiresGrad(true)
		Compose(o, i, 96, 64).Mul(t64(r, 2, 3)).Sum().Backward()
		gO, gI = o.Grad().Float64s(), i.Grad().Float64s()
	})
	if err := compareGrads("dCompose/douter", gO, centralDiff(func(x []float64) float64 { return f(x, inner) }, outer, allIdx(6), 1e-6), 1e-7, 1e-9); err != nil {
		t.Error(err)
	}
	if err := compareGrads("dCompose/dinner", gI, centralDiff(func(x []float64) float64 { return f(outer, x) }, inner, allIdx(6), 1e-6), 1e-7, 1e-9); err != nil {
		t.Error(err)
	}
}

// PretrainTargets: a feature map (non-square, 6 high, 8 wide) whose channel
// MEAN peaks at known cells (one channel alone peaks elsewhere), including
// corner peaks whose squares must be shifted inside.
func TestPretrainTargets(t *testing.T) {
	const n, c, h, w = 4, 3, 6, 8
	feat := make([]float64, n*c*h*w)
	set := func(i, ch, r, x int, v float64) { feat[((i*c+ch)*h+r)*w+x] = v }
	peaks := [][2]int{{2, 5}, {0, 0}, {5, 7}, {3, 1}}
	for i, p := range peaks {
		for ch := 0; ch < c; ch++ {
			set(i, ch, p[0], p[1], 1)
		}
		set(i, 0, (p[0]+3)%h, (p[1]+4)%w, 2.5) // channel 0 alone peaks elsewhere (mean 0.83 < 1)
	}
	cfg := DefaultConfig()
	var got []float64
	torch.WithScope(func() {
		tt := PretrainTargets(t64(feat, n, c, h, w).ToDType(torch.Float32), Target{Half: 0.25, Peak: PeakCell}, cfg)
		if tt.DType() != torch.Float32 || tt.RequiresGrad() {
			t.Fatalf("targets dtype %v, requires grad %v", tt.DType(), tt.RequiresGrad())
		}
		got = tt.Float64s()
	})
	// S/W = 6/8: an Inside centre lies in [0.1875, 0.8125] along x, [0.25, 0.75] along y.
	want := []float64{
		5.5 / 8, 2.5 / 6, 0.25, // middle: the cell centre
		0.1875, 0.25, 0.25, // top-left corner: shifted in
		0.8125, 0.75, 0.25, // bottom-right corner
		0.1875, 3.5 / 6, 0.25, // left edge: x shifted, y kept
	}
	closeAll(t, "targets", got, want, 1e-6)

	// The half-side is clipped into [MinHalf, MaxHalf]; without Inside the
	// centre stays on the peak cell.
	cfg.Inside = false
	torch.WithScope(func() {
		got = PretrainTargets(t64(feat, n, c, h, w), Target{Half: 0.05, Peak: PeakCell}, cfg).Float64s()
	})
	closeAll(t, "targets without inside", got[3:6], []float64{0.5 / 8, 0.5 / 6, cfg.MinHalf}, 1e-12)
}

// Recentre moves each coarse square to the fine box's centre and keeps its
// half-side; with Inside the centre is shifted back into the image.
func TestRecentre(t *testing.T) {
	cfg := DefaultConfig()
	var got []float64
	torch.WithScope(func() {
		coarse := t64([]float64{0.3, 0.4, 0.2, 0.5, 0.5, 0.25}, 2, 3)
		fine := t64([]float64{0.35, 0.45, 0.05, 0.1, 0.9, 0.02}, 2, 3)
		got = Recentre(coarse, fine, 8, 8, cfg).Float64s()
		closeAll(t, "recentred", got, []float64{0.35, 0.45, 0.2, 0.25, 0.75, 0.25}, 1e-12)
		cfg.Inside = false
		got = Recentre(coarse, fine, 8, 8, cfg).Float64s()
		closeAll(t, "recentred without inside", got, []float64{0.35, 0.45, 0.2, 0.1, 0.9, 0.25}, 1e-12)
		// A 6×8 image: the half-side is a fraction of the shorter side (6),
		// so along x the centre stays 0.25·6/8 from the edge.
		cfg.Inside = true
		got = Recentre(coarse, fine, 8, 6, cfg).Float64s()
		closeAll(t, "recentred on 8x6", got[3:], []float64{0.1875, 0.75, 0.25}, 1e-12)
	})
}
