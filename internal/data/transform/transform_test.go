package transform

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/racnn/racnn/internal/data"
)

// unit is the normalisation that leaves pixel values p as p/255.
var unit = Norm{Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}

func solid(w, h int, r, g, b uint8) *data.Image {
	img := &data.Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for i := 0; i < w*h; i++ {
		img.Pix[i*3], img.Pix[i*3+1], img.Pix[i*3+2] = r, g, b
	}
	return img
}

func fillRect(img *data.Image, b data.Box, r, g, bl uint8) {
	for y := int(b.Y); y < int(b.Y+b.H); y++ {
		for x := int(b.X); x < int(b.X+b.W); x++ {
			p := (y*img.W + x) * 3
			img.Pix[p], img.Pix[p+1], img.Pix[p+2] = r, g, bl
		}
	}
}

func TestIdentityRenderIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := &data.Image{W: 7, H: 5, Pix: make([]uint8, 7*5*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	v := NewView(7, 5)
	dst := make([]float32, 3*7*5)
	if err := v.Render(img, ImageNetNorm(), dst); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 3; c++ {
		for y := 0; y < 5; y++ {
			for x := 0; x < 7; x++ {
				want := (float32(img.Pix[(y*7+x)*3+c])/255 - ImageNetMean[c]) / ImageNetStd[c]
				got := dst[c*35+y*7+x]
				if math.Abs(float64(got-want)) > 1e-5 {
					t.Fatalf("c%d (%d,%d): got %g want %g", c, x, y, got, want)
				}
			}
		}
	}
	// Flipped identity mirrors the columns exactly.
	if err := v.HFlip().Render(img, unit, dst); err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 5; y++ {
		for x := 0; x < 7; x++ {
			want := float32(img.Pix[(y*7+6-x)*3+1]) / 255
			if got := dst[35+y*7+x]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("flip (%d,%d): got %g want %g", x, y, got, want)
			}
		}
	}
}

func TestConstantImageStaysConstant(t *testing.T) {
	img := solid(31, 17, 10, 128, 250)
	for _, v := range []View{
		NewView(31, 17).Resize(93, 51), // upscale
		NewView(31, 17).Resize(5, 3),   // downscale
		NewView(31, 17).ResizeShorter(40).RandomCrop(40, 40, rand.New(rand.NewPCG(3, 4))).HFlip(),
	} {
		dst := make([]float32, 3*v.W*v.H)
		if err := v.Render(img, unit, dst); err != nil {
			t.Fatal(err)
		}
		for c, want := range []float32{10. / 255, 128. / 255, 250. / 255} {
			for i, got := range dst[c*v.W*v.H : (c+1)*v.W*v.H] {
				if math.Abs(float64(got-want)) > 1e-5 {
					t.Fatalf("view %+v c%d px %d: got %g want %g", v, c, i, got, want)
				}
			}
		}
	}
}

// A one-pixel checkerboard shrunk 4× must come out uniform grey: a
// non-antialiased (point-sampled or 2-tap bilinear) resize would give black
// and white stripes or a moiré.
func TestDownscaleDoesNotAlias(t *testing.T) {
	const n = 256
	img := &data.Image{W: n, H: n, Pix: make([]uint8, n*n*3)}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if (x+y)%2 == 0 {
				p := (y*n + x) * 3
				img.Pix[p], img.Pix[p+1], img.Pix[p+2] = 255, 255, 255
			}
		}
	}
	for _, out := range []int{64, 57, 100} {
		v := NewView(n, n).Resize(out, out)
		dst := make([]float32, 3*out*out)
		if err := v.Render(img, unit, dst); err != nil {
			t.Fatal(err)
		}
		for i, got := range dst {
			if math.Abs(float64(got)-0.5) > 0.04 {
				t.Fatalf("size %d px %d: got %g, want ≈0.5 (aliasing)", out, i, got)
			}
		}
	}
}

func TestPaddingIsMeanColour(t *testing.T) {
	img := solid(10, 6, 255, 255, 255)
	// Shorter side stays 6, a centred 10×10 crop pads 2 rows above and below.
	v := NewView(10, 6).CenterCrop(10, 10)
	dst := make([]float32, 3*100)
	if err := v.Render(img, ImageNetNorm(), dst); err != nil {
		t.Fatal(err)
	}
	white := (1 - ImageNetMean[0]) / ImageNetStd[0]
	for y := 0; y < 10; y++ {
		for x := 0; x < 10; x++ {
			got := dst[y*10+x]
			want := white
			if y < 2 || y >= 8 {
				want = 0
			}
			if math.Abs(float64(got-want)) > 1e-5 {
				t.Fatalf("(%d,%d): got %g want %g", x, y, got, want)
			}
		}
	}
	// RandomCrop larger than the view is centred too.
	r := NewView(10, 6).RandomCrop(10, 10, rand.New(rand.NewPCG(1, 1)))
	if r != v {
		t.Fatalf("random crop larger than the view: %+v, want the centred %+v", r, v)
	}
}

func TestMapBoxArithmetic(t *testing.T) {
	v := NewView(500, 375).ResizeShorter(300) // 400×300, scale 0.8
	if v.W != 400 || v.H != 300 {
		t.Fatalf("resize shorter: %d×%d", v.W, v.H)
	}
	v = v.Crop(50, 20, 256, 256)
	b := v.MapBox(data.Box{X: 100, Y: 50, W: 50, H: 25}) // → (80,40,40,20) → crop (30,20,40,20)
	want := data.Box{X: 30, Y: 20, W: 40, H: 20}
	if !boxNear(b, want, 1e-9) {
		t.Fatalf("got %+v want %+v", b, want)
	}
	fb := v.HFlip().MapBox(data.Box{X: 100, Y: 50, W: 50, H: 25})
	want = data.Box{X: 256 - 70, Y: 20, W: 40, H: 20}
	if !boxNear(fb, want, 1e-9) {
		t.Fatalf("flipped: got %+v want %+v", fb, want)
	}
	// Clipping: a box sticking out of the crop on the left and bottom.
	cb := v.MapBox(data.Box{X: 0, Y: 300, W: 100, H: 200})
	want = data.Box{X: 0, Y: 220, W: 30, H: 36}
	if !boxNear(cb, want, 1e-9) {
		t.Fatalf("clipped: got %+v want %+v", cb, want)
	}
	// Crop after a flip is in flipped coordinates: the left 10 columns of
	// the flipped view are the right 10 of the unflipped one.
	f := NewView(100, 50).HFlip().Crop(0, 0, 10, 50)
	if f.X0 != 90 || f.WinW != 10 || !f.Flip {
		t.Fatalf("crop after flip: %+v", f)
	}
}

func boxNear(a, b data.Box, tol float64) bool {
	return math.Abs(a.X-b.X) <= tol && math.Abs(a.Y-b.Y) <= tol &&
		math.Abs(a.W-b.W) <= tol && math.Abs(a.H-b.H) <= tol
}

// The central transform test: a bright box drawn into a dark image must be
// found under the transformed annotation after resize, random crop and flip.
func TestBoxFollowsPixels(t *testing.T) {
	img := solid(500, 375, 20, 30, 40)
	box := data.Box{X: 310, Y: 90, W: 120, H: 70}
	fillRect(img, box, 240, 220, 200)
	p, err := New(Config{Resize: 256, SourceSize: 224, InputSize: 112, Train: true, Norm: unit})
	if err != nil {
		t.Fatal(err)
	}
	flips, xs := 0, map[float64]bool{}
	for seed := uint64(0); seed < 40; seed++ {
		s, err := p.Sample(img, 3, &box, rand.New(rand.NewPCG(seed, 7)))
		if err != nil {
			t.Fatal(err)
		}
		if s.Label != 3 || s.Box == nil {
			t.Fatalf("label %d box %v", s.Label, s.Box)
		}
		b := *s.Box
		// 256/375 scale: the box is 81.9×47.8; a crop may cut its right part
		// (at most to 224−211.6 px).
		if b.W < 12 || math.Abs(b.H-70*256/375.0) > 1e-9 {
			t.Fatalf("seed %d: box %+v", seed, b)
		}
		xs[b.X] = true
		if b.X+b.W/2 < 112 { // the box is on the right of the image
			flips++
		}
		checkBox(t, s.Source, 224, b, 240./255, 20./255)
		// The scale-1 input is the same picture at half size.
		hb := data.Box{X: b.X / 2, Y: b.Y / 2, W: b.W / 2, H: b.H / 2}
		checkBox(t, s.Input, 112, hb, 240./255, 20./255)
	}
	if flips < 10 || flips > 30 {
		t.Fatalf("%d of 40 samples flipped, want about half", flips)
	}
	if len(xs) < 10 {
		t.Fatalf("only %d distinct box positions in 40 random crops", len(xs))
	}
}

// checkBox asserts that channel 0 of a normalised-to-unit CHW tensor is
// inside (1.5 px margin) the box and outside it (1.5 px margin) bg.
func checkBox(t *testing.T, x []float32, size int, b data.Box, fg, bg float32) {
	t.Helper()
	inside, outside := 0, 0
	for y := 0; y < size; y++ {
		for xx := 0; xx < size; xx++ {
			cx, cy := float64(xx)+0.5, float64(y)+0.5
			v := x[y*size+xx]
			in := cx > b.X+1.5 && cx < b.X+b.W-1.5 && cy > b.Y+1.5 && cy < b.Y+b.H-1.5
			out := cx < b.X-1.5 || cx > b.X+b.W+1.5 || cy < b.Y-1.5 || cy > b.Y+b.H+1.5
			switch {
			case in:
				inside++
				if math.Abs(float64(v-fg)) > 1e-4 {
					t.Fatalf("pixel (%d,%d) inside box %+v is %g, want %g", xx, y, b, v, fg)
				}
			case out:
				outside++
				if math.Abs(float64(v-bg)) > 1e-4 {
					t.Fatalf("pixel (%d,%d) outside box %+v is %g, want %g", xx, y, b, v, bg)
				}
			}
		}
	}
	if inside == 0 || outside == 0 {
		t.Fatalf("box %+v: %d pixels inside, %d outside", b, inside, outside)
	}
}

func TestEvalIsCentredAndDeterministic(t *testing.T) {
	p, err := New(Config{Resize: 256, SourceSize: 224})
	if err != nil {
		t.Fatal(err)
	}
	v := p.Plan(500, 375, nil) // eval mode never touches the generator
	// 500×375 → 341×256, centre crop at (round(58.5), 16) = (58, 16).
	if v.W != 224 || v.H != 224 || v.Flip {
		t.Fatalf("eval view %+v", v)
	}
	sx, sy := 500.0/341, 375.0/256
	if math.Abs(v.Y0-16*sy) > 1e-9 || math.Abs(v.X0-58*sx) > 1e-9 {
		t.Fatalf("eval crop offset %+v", v)
	}
	tp, _ := New(Config{Resize: 256, SourceSize: 224, Train: true})
	a := tp.Plan(500, 375, rand.New(rand.NewPCG(5, 6)))
	b := tp.Plan(500, 375, rand.New(rand.NewPCG(5, 6)))
	if a != b {
		t.Fatalf("same seed, different views: %+v %+v", a, b)
	}
}

// A reduced decode (as JPEG DCT scaling gives) yields the same geometry and
// nearly the same pixels as the full-size image.
func TestReducedDecodeKeepsGeometry(t *testing.T) {
	full := solid(400, 300, 0, 0, 0)
	box := data.Box{X: 200, Y: 100, W: 120, H: 80}
	fillRect(full, box, 255, 255, 255)
	half := solid(200, 150, 0, 0, 0)
	fillRect(half, data.Box{X: 100, Y: 50, W: 60, H: 40}, 255, 255, 255)
	p, _ := New(Config{Resize: 128, SourceSize: 128, Train: true, Norm: unit})
	a := make([]float32, p.SourceLen())
	b := make([]float32, p.SourceLen())
	ba, err := p.Apply(full, 400, 300, &box, rand.New(rand.NewPCG(9, 9)), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := p.Apply(half, 400, 300, &box, rand.New(rand.NewPCG(9, 9)), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *ba != *bb {
		t.Fatalf("boxes differ: %+v %+v", *ba, *bb)
	}
	checkBox(t, a, 128, *ba, 1, 0)
	checkBox(t, b, 128, *bb, 1, 0)
}

func TestConfigErrors(t *testing.T) {
	neg := -0.1
	for _, c := range []Config{{}, {SourceSize: 10, Resize: -1}, {SourceSize: 10, FlipProb: &neg},
		{SourceSize: 10, Norm: Norm{Mean: [3]float32{1, 1, 1}}}} {
		if _, err := New(c); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
	p, _ := New(Config{SourceSize: 4})
	if err := NewView(3, 3).Render(solid(4, 4, 0, 0, 0), p.cfg.Norm, make([]float32, 27)); err == nil {
		t.Error("render on an image of the wrong size: no error")
	}
	if err := NewView(3, 3).Render(solid(3, 3, 0, 0, 0), p.cfg.Norm, make([]float32, 26)); err == nil {
		t.Error("render into a short destination: no error")
	}
}
