package apn

import (
	"math"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// Geometry of the crop on synthetic images whose content is known.

// ramp is an n×c×h×w image whose pixel (r, x) holds (x + 0.5) + 1000·(r + 0.5),
// its centre's coordinates: bilinear sampling of it returns the sampled
// point's coordinates exactly (inside the half-pixel border band).
func ramp(n, c, h, w int64) []float64 {
	v := make([]float64, 0, n*c*h*w)
	for i := int64(0); i < n*c; i++ {
		for r := int64(0); r < h; r++ {
			for x := int64(0); x < w; x++ {
				v = append(v, float64(x)+0.5+1000*(float64(r)+0.5))
			}
		}
	}
	return v
}

// sharp is a config whose mask is 1 at every sampled point (K huge).
func sharp() Config {
	c := DefaultConfig()
	c.K = 1e9
	return c
}

// expectRamp is the crop of a ramp image with border padding: the sampled
// point, clamped to the band between the outermost pixel centres.
func expectRamp(box [3]float64, w, h float64, oh, ow int64) []float64 {
	s := math.Min(w, h)
	x0, y0, side := box[0]*w-box[2]*s, box[1]*h-box[2]*s, 2*box[2]*s
	out := make([]float64, 0, oh*ow)
	for i := int64(0); i < oh; i++ {
		y := y0 + side*(float64(i)+0.5)/float64(oh)
		for j := int64(0); j < ow; j++ {
			x := x0 + side*(float64(j)+0.5)/float64(ow)
			out = append(out, clamp(x, 0.5, w-0.5)+1000*clamp(y, 0.5, h-0.5))
		}
	}
	return out
}

func clamp(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

func closeAll(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s: value %d is %.9g, want %.9g", name, i, got[i], want[i])
		}
	}
}

// Every sample gets its own box, x and y are not swapped, and boxes on a
// non-square source (64 high, 96 wide) and flush with its borders land
// where the contract says, in both modes, with square and non-square outputs.
func TestCropRampGeometry(t *testing.T) {
	const h, w = 64, 96
	boxes := [][3]float64{
		{0.7, 0.3, 0.15},           // upper right, inside
		{0.25, 0.75, 0.2},          // lower left, inside
		{0.2 * 64 / 96, 0.2, 0.2},  // flush with the top-left corner
		{1 - 0.5*64/96, 0.5, 0.5},  // full height, flush with the right edge
		{0.5, 1 - 0.1, 0.1},        // flush with the bottom edge
		{0.5 * 64 / 96, 0.5, 0.5},  // the leftmost full-height square
		{0.031, 0.987, 0.25 / 6.4}, // tiny box near the bottom-left corner
	}
	n := int64(len(boxes))
	var flat []float64
	for _, b := range boxes {
		flat = append(flat, b[:]...)
	}
	for _, mode := range []string{ModeBoxcar, ModeGrid} {
		for _, out := range [][2]int64{{16, 16}, {12, 20}} {
			cfg := sharp()
			cfg.Mode = mode
			torch.WithScope(func() {
				got := Crop(t64(ramp(n, 2, h, w), n, 2, h, w), t64(flat, n, 3), out[0], out[1], cfg)
				if s := got.Shape(); s[0] != n || s[1] != 2 || s[2] != out[0] || s[3] != out[1] {
					t.Fatalf("shape %v", s)
				}
				for i, b := range boxes {
					for c := int64(0); c < 2; c++ {
						closeAll(t, mode, got.Narrow(0, int64(i), 1).Narrow(1, c, 1).Contiguous().Float64s(),
							expectRamp(b, w, h, out[0], out[1]), 1e-9)
					}
				}
			})
		}
	}
}

// quadrants is a 3-channel h×w image whose four quadrants have distinct
// constant colours (channel c of quadrant q holds 10·q + c + 1).
func quadrants(h, w int64) []float64 {
	v := make([]float64, 0, 3*h*w)
	for c := int64(0); c < 3; c++ {
		for y := int64(0); y < h; y++ {
			for x := int64(0); x < w; x++ {
				q := 0
				if x >= w/2 {
					q++
				}
				if y >= h/2 {
					q += 2
				}
				v = append(v, float64(10*q)+float64(c)+1)
			}
		}
	}
	return v
}

// A box in each quadrant, two of them flush with the image corners, reads
// that quadrant's colour only, on square and non-square sources.
func TestCropQuadrants(t *testing.T) {
	for _, size := range [][2]int64{{64, 64}, {64, 96}, {96, 64}} {
		h, w := size[0], size[1]
		s := math.Min(float64(h), float64(w))
		l := 0.18 // half-side, fraction of S; fits in a quadrant
		hw, hh := l*s/float64(w), l*s/float64(h)
		boxes := []float64{
			hw, hh, l, // top-left, flush with the corner
			0.75, 0.25, l, // top-right, centred in the quadrant
			0.25, 0.75, l, // bottom-left
			1 - hw, 1 - hh, l, // bottom-right, flush with the corner
		}
		torch.WithScope(func() {
			src := torch.FromSlice(quadrants(h, w), 1, 3, h, w).Expand(4, 3, h, w).ToDType(torch.Float32).Contiguous()
			got := Crop(src, torch.FromSlice(boxes, 4, 3), 24, 24, sharp()).Float64s()
			for q := 0; q < 4; q++ {
				for c := 0; c < 3; c++ {
					want := float64(10*q) + float64(c) + 1
					for _, v := range got[(q*3+c)*24*24 : (q*3+c+1)*24*24] {
						if math.Abs(v-want) > 1e-5 {
							t.Fatalf("%dx%d quadrant %d channel %d: read %v, want %v", h, w, q, c, v, want)
						}
					}
				}
			}
		})
	}
}

// The mask at the sampled points is the contract's boxcar: on an all-ones
// image the crop is M itself, checked against the formula in plain Go, and
// the forward pass is the same in both modes.
func TestCropMaskValues(t *testing.T) {
	const h, w, oh, ow = 40, 50, 8, 10
	box := [3]float64{0.45, 0.55, 0.3}
	k := 25.0
	sg := func(z float64) float64 { return 1 / (1 + math.Exp(-k*z)) }
	s := 40.0
	xtl, xbr := box[0]*w-box[2]*s, box[0]*w+box[2]*s
	ytl, ybr := box[1]*h-box[2]*s, box[1]*h+box[2]*s
	var want []float64
	for i := 0; i < oh; i++ {
		y := ytl + (ybr-ytl)*(float64(i)+0.5)/oh
		for j := 0; j < ow; j++ {
			x := xtl + (xbr-xtl)*(float64(j)+0.5)/ow
			want = append(want, (sg((x-xtl)/s)-sg((x-xbr)/s))*(sg((y-ytl)/s)-sg((y-ybr)/s)))
		}
	}
	var outs [2][]float64
	for i, mode := range []string{ModeBoxcar, ModeGrid} {
		cfg := DefaultConfig()
		cfg.K, cfg.Mode = k, mode
		torch.WithScope(func() {
			outs[i] = Crop(torch.Ones([]int64{1, 1, h, w}, torch.WithDType(torch.Float64)), t64(box[:], 1, 3), oh, ow, cfg).Float64s()
		})
		closeAll(t, mode, outs[i], want, 1e-12)
	}
	// The outermost pixels are half an output pixel inside the edge: M >= 0.5
	// there, and larger inside.
	if want[0] < 0.25 || want[0] >= want[ow+1] {
		t.Fatalf("mask corner %v, next inner %v", want[0], want[ow+1])
	}
}

// Zeros padding reads zeros outside the source: half a pixel beyond a
// border-flush box's edge, and over the part of a box that leaves the image.
func TestCropZerosPadding(t *testing.T) {
	const h, w = 32, 32
	cfg := sharp()
	cfg.Padding = PadZeros
	cfg.Inside = false
	// Box flush with the left edge, side 8 px zoomed to 32: the first output
	// column samples x = 0.125, where bilinear weights give 0.625 of pixel 0
	// and the rest of the zero padding.
	torch.WithScope(func() {
		one := torch.Ones([]int64{1, 1, h, w}, torch.WithDType(torch.Float64))
		got := Crop(one, t64([]float64{4.0 / 32, 0.5, 4.0 / 32}, 1, 3), 32, 32, cfg).Float64s()
		if v := got[16*32]; math.Abs(v-0.625) > 1e-12 {
			t.Fatalf("first column with zeros padding: %v, want 0.625", v)
		}
		if v := got[16*32+8]; math.Abs(v-1) > 1e-12 {
			t.Fatalf("inner column: %v, want 1", v)
		}
		cfg.Padding = PadBorder
		if v := Crop(one, t64([]float64{4.0 / 32, 0.5, 4.0 / 32}, 1, 3), 32, 32, cfg).Float64s()[16*32]; v != 1 {
			t.Fatalf("first column with border padding: %v, want 1", v)
		}
		// Half of this box is right of the image: the right half is black.
		cfg.Padding = PadZeros
		got = Crop(one, t64([]float64{1, 0.5, 0.25}, 1, 3), 16, 16, cfg).Float64s()
		for j := 0; j < 16; j++ {
			v := got[5*16+j]
			if (j < 7 && v != 1) || (j > 8 && v != 0) {
				t.Fatalf("leaving box, column %d: %v", j, v)
			}
		}
	})
}

func TestCropRejectsBadShapes(t *testing.T) {
	err := torch.Try(func() {
		torch.WithScope(func() {
			Crop(torch.Zeros([]int64{2, 3, 8, 8}), torch.Zeros([]int64{1, 3}), 4, 4, DefaultConfig())
		})
	})
	if err == nil {
		t.Fatal("one box for two images was accepted")
	}
	err = torch.Try(func() {
		torch.WithScope(func() {
			Crop(torch.Zeros([]int64{3, 8, 8}), torch.Zeros([]int64{3, 3}), 4, 4, DefaultConfig())
		})
	})
	if err == nil {
		t.Fatal("a 3-D source was accepted")
	}
}

// A float32 crop in a training loop does not leak handles.
func TestCropNoLeak(t *testing.T) {
	src := torch.Rand([]int64{2, 3, 20, 30}).Keep()
	defer src.Free()
	step := func() {
		torch.WithScope(func() {
			b := torch.FromSlice([]float32{0.4, 0.5, 0.3, 0.6, 0.5, 0.2}, 2, 3).SetRequiresGrad(true)
			Crop(src, b, 8, 8, DefaultConfig()).Sum().Backward()
			_ = b.Grad().Float32s()
		})
	}
	step()
	base := torch.Live()
	for i := 0; i < 5; i++ {
		step()
	}
	if got := torch.Live(); got != base {
		t.Fatalf("live handles %d after 5 steps, %d before", got, base)
	}
}
