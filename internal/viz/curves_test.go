package viz

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	return img
}

func countRGBA(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bb>>8) == c.B {
				n++
			}
		}
	}
	return n
}

func TestCurvesWritesPNG(t *testing.T) {
	loss, acc, phases := fakeRun()
	path := filepath.Join(t.TempDir(), "curves.png")
	if err := Curves(loss, acc, phases, path); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, path)
	if img.Bounds() != image.Rect(0, 0, defaultCurvW, defaultCurvH) {
		t.Fatalf("size %v, want %d×%d", img.Bounds(), defaultCurvW, defaultCurvH)
	}
	// Every loss kind and every scale shows in its colour, and the phases
	// named like loss kinds are shaded in theirs.
	for i := range loss {
		if n := countRGBA(img, lossColors[i]); n < 30 {
			t.Errorf("loss %q: %d pixels of its colour", loss[i].Name, n)
		}
		if n := countRGBA(img, tint(lossColors[i], bandOpacity)); n < 1000 {
			t.Errorf("phase %q: %d pixels of its band", loss[i].Name, n)
		}
	}
	for _, c := range []color.RGBA{Scale1Color, ScaleColors[0], ScaleColors[1], fusedColor} {
		if n := countRGBA(img, c); n < 30 {
			t.Errorf("accuracy colour %v: %d pixels", c, n)
		}
	}
}

func TestCurvesVariants(t *testing.T) {
	loss, acc, phases := fakeRun()
	dir := t.TempDir()
	cases := map[string]CurvesView{
		"loss only":   {Loss: loss, Phases: phases},
		"acc only":    {Acc: acc, Phases: phases, Width: 640, Height: 360},
		"no phases":   {Loss: loss, Acc: acc, Title: "run 7", Smooth: 0.95},
		"one point":   {Loss: []Series{{Name: "cls", Points: []Point{{3, 1.5}}}}, Acc: []Series{{Points: []Point{{3, 50}}}}},
		"flat, NaN":   {Loss: []Series{{Points: []Point{{0, 1}, {1, 1}, {2, math.NaN()}, {math.Inf(1), 2}}}}},
		"unsorted":    {Loss: []Series{{Name: "cls", Points: []Point{{5, 1}, {1, 3}, {3, 2}}}}, Phases: []PhaseMark{{4, "b"}, {0, "a"}, {math.NaN(), "?"}, {1e9, "later"}}},
		"percentages": {Acc: []Series{{Name: "fused", Points: []Point{{1, 40}, {2, 80}, {3, 100}}}}},
	}
	for name, v := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".png")
		if err := CurvesPNG(v, path); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		img := decodePNG(t, path)
		w, h := v.Width, v.Height
		if w == 0 {
			w, h = defaultCurvW, defaultCurvH
		}
		if img.Bounds() != image.Rect(0, 0, w, h) {
			t.Errorf("%s: size %v, want %d×%d", name, img.Bounds(), w, h)
		}
	}
}

func TestCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	cases := map[string]CurvesView{
		"nothing to plot": {},
		"nothing to plot: no loss or accuracy series has a finite point": {
			Loss: []Series{{Name: "cls"}}, Acc: []Series{{Name: "fused", Points: []Point{{math.NaN(), 1}}}},
		},
		"smoothing 1 is not in [0, 1)": {Loss: []Series{{Points: []Point{{0, 1}}}}, Smooth: 1},
		"size 100×100 is not between":  {Loss: []Series{{Points: []Point{{0, 1}}}}, Width: 100, Height: 100},
	}
	for want, v := range cases {
		err := CurvesPNG(v, path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error containing %q", err, want)
		}
	}
	if err := Curves(nil, nil, nil, path); err == nil {
		t.Error("Curves with no series: no error")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Curves left a file behind: %v", err)
	}
}

func TestSegments(t *testing.T) {
	pts := []Point{{0, 1}, {1, 1}, {2, 1}, {10, 1}, {11, 1}, {20, 1}}
	got := segments(pts, []PhaseMark{{Step: 5}, {Step: 10}, {Step: 15}, {Step: 30}})
	want := [][]Point{pts[:3], pts[3:5], pts[5:]}
	if !slices.EqualFunc(got, want, slices.Equal[[]Point]) {
		t.Errorf("segments = %v, want %v", got, want)
	}
	if got := segments(pts, nil); len(got) != 1 || len(got[0]) != len(pts) {
		t.Errorf("no phases: %v", got)
	}
}

func TestEMA(t *testing.T) {
	got := ema([]Point{{0, 2}, {1, 2}, {2, 2}}, 0.9)
	for _, p := range got {
		if math.Abs(p.Y-2) > 1e-12 {
			t.Fatalf("EMA of a constant is %v", got)
		}
	}
	got = ema([]Point{{0, 0}, {1, 10}}, 0.5)
	if want := 10 * 0.5 / 0.75; math.Abs(got[1].Y-want) > 1e-12 || got[0].Y != 0 {
		t.Errorf("EMA = %v, want second value %v", got, want)
	}
}

func TestPercentTicks(t *testing.T) {
	var labels []string
	for _, tk := range (percentTicks{unit: 1}).Ticks(0.3, 1.1) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	for _, l := range labels {
		if !strings.HasSuffix(l, "%") || len(l) > 5 {
			t.Errorf("tick label %q", l)
		}
	}
	if slices.Contains(labels, "110%") || len(labels) < 2 {
		t.Errorf("labels %q", labels)
	}
}

// The pictures may be drawn from several goroutines at once (run with -race).
func TestConcurrentDrawing(t *testing.T) {
	loss, acc, phases := fakeRun()
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			var err error
			if i%2 == 0 {
				_, err = Attention(testView())
			} else {
				_, err = CurvesImage(CurvesView{Loss: loss[:2], Acc: acc, Phases: phases[:3], Width: 400, Height: 300})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
