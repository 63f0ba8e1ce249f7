package viz

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/racnn/racnn/internal/data"
)

// cropZoom cuts box b out of src and resizes it to n×n bilinearly, the way
// the model zooms (pixels outside the image are black).
func cropZoom(src *data.Image, b [4]float64, n int) *data.Image {
	out := &data.Image{W: n, H: n, Pix: make([]uint8, n*n*3)}
	at := func(x, y int, c int) float64 {
		if x < 0 || y < 0 || x >= src.W || y >= src.H {
			return 0
		}
		return float64(src.Pix[(y*src.W+x)*3+c])
	}
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			fx := b[0] + (float64(i)+0.5)*(b[2]-b[0])/float64(n) - 0.5
			fy := b[1] + (float64(j)+0.5)*(b[3]-b[1])/float64(n) - 0.5
			x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
			ax, ay := fx-float64(x0), fy-float64(y0)
			for c := 0; c < 3; c++ {
				v := (1-ax)*(1-ay)*at(x0, y0, c) + ax*(1-ay)*at(x0+1, y0, c) +
					(1-ax)*ay*at(x0, y0+1, c) + ax*ay*at(x0+1, y0+1, c)
				out.Pix[(j*n+i)*3+c] = uint8(math.Round(v))
			}
		}
	}
	return out
}

func fromImage(im image.Image) *data.Image {
	b := im.Bounds()
	out := &data.Image{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, b.Dx()*b.Dy()*3)}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bb, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*b.Dx() + x) * 3
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	return out
}

// mnistCanvas is a 128×128 black canvas with a thick white "7" on it, like
// a cluttered-MNIST sample, plus some clutter.
func mnistCanvas() *data.Image {
	im := &data.Image{W: 128, H: 128, Pix: make([]uint8, 128*128*3)}
	set := func(x, y int, v uint8) {
		if x >= 0 && y >= 0 && x < 128 && y < 128 {
			i := (y*128 + x) * 3
			im.Pix[i], im.Pix[i+1], im.Pix[i+2] = v, v, v
		}
	}
	for x := 60; x < 84; x++ {
		for t := 0; t < 3; t++ {
			set(x, 52+t, 255)
		}
	}
	for y := 52; y < 80; y++ {
		x := 83 - (y-52)*14/28
		for t := -1; t < 2; t++ {
			set(x+t, y, 230)
		}
	}
	for _, p := range [][2]int{{10, 20}, {100, 110}, {20, 100}, {110, 15}} {
		for k := 0; k < 6; k++ {
			set(p[0]+k, p[1]+k%3, 200)
		}
	}
	return im
}

// TestWriteExamples writes example pictures to $RACNN_VIZ_EXAMPLES to look at.
func TestWriteExamples(t *testing.T) {
	dir := os.Getenv("RACNN_VIZ_EXAMPLES")
	if dir == "" {
		t.Skip("set RACNN_VIZ_EXAMPLES=dir to write example pictures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Cluttered MNIST: 128×128 canvas, 48×48 crops.
	src := mnistCanvas()
	b2 := [4]float64{44, 36, 100, 92}
	b3 := [4]float64{56, 46, 88, 78}
	v := AttentionView{
		Source:   src,
		Boxes:    [][4]float64{b2, b3},
		Crops:    []*data.Image{cropZoom(src, b2, 48), cropZoom(src, b3, 48)},
		Captions: []string{"scale 1: 7 0.62", "scale 2: 7 0.88", "scale 3: 7 0.95", "fused: 7 0.93"},
		Title:    "mnist/test/00042.png",
	}
	if err := AttentionPNG(v, filepath.Join(dir, "attention_mnist.png")); err != nil {
		t.Fatal(err)
	}
	// A photograph.
	f, err := os.Open("/usr/lib/python3/dist-packages/skimage/data/chelsea.png")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	src = fromImage(im)
	b2 = [4]float64{100, -20, 330, 210}
	b3 = [4]float64{150, 40, 260, 150}
	v = AttentionView{
		Source: src,
		Boxes:  [][4]float64{b2, b3},
		Crops:  []*data.Image{cropZoom(src, b2, 224), cropZoom(src, b3, 224)},
		Captions: []string{"scale 1: Egyptian cat 0.41", "scale 2: tabby, tabby cat 0.58",
			"scale 3: tiger cat (a very long class name to see the wrapping) 0.71", "fused: tabby, tabby cat 0.66"},
		Title: "chelsea.png",
	}
	if err := AttentionPNG(v, filepath.Join(dir, "attention_cat.png")); err != nil {
		t.Fatal(err)
	}
}

// fakeRun is the metrics of a made-up RA-CNN run: scale fine-tuning, APN
// pre-training, then classification and ranking alternating.
func fakeRun() (loss, acc []Series, phases []PhaseMark) {
	rng := uint64(42)
	noise := func() float64 {
		rng = rng*6364136223846793005 + 1442695040888963407
		return float64(rng>>11)/float64(1<<53) - 0.5
	}
	kinds := map[string]int{"scale fine-tuning": 0, "APN pre-training": 1, "classification": 2, "ranking": 3}
	loss = []Series{{Name: "scale fine-tuning"}, {Name: "APN pre-training"}, {Name: "classification"}, {Name: "ranking"}}
	sched := []struct {
		kind       string
		start, end int
	}{{"scale fine-tuning", 0, 3000}, {"APN pre-training", 3000, 3600}}
	for s := 3600; s < 9600; s += 1000 {
		sched = append(sched, struct {
			kind       string
			start, end int
		}{"classification", s, s + 600}, struct {
			kind       string
			start, end int
		}{"ranking", s + 600, s + 1000})
	}
	for _, ph := range sched {
		phases = append(phases, PhaseMark{Step: float64(ph.start), Label: ph.kind})
		k := kinds[ph.kind]
		for st := ph.start; st < ph.end; st += 5 {
			var y float64
			switch ph.kind {
			case "scale fine-tuning":
				y = 3*(0.15+0.85*math.Exp(-float64(st)/700)) + 0.5*noise()
			case "APN pre-training":
				y = 0.08*math.Exp(-float64(st-3000)/150) + 0.01 + 0.01*noise()
			case "classification":
				y = 3*(0.11+0.3*math.Exp(-float64(st-3600)/1500)) + 0.4*noise()
			case "ranking":
				y = 0.05*math.Exp(-float64(st-3600)/3000) + 0.03*noise()
			}
			loss[k].Points = append(loss[k].Points, Point{float64(st), math.Max(y, 0)})
		}
	}
	acc = []Series{{Name: "scale 1"}, {Name: "scale 2"}, {Name: "scale 3"}, {Name: "fused"}}
	for st := 500; st <= 9600; st += 500 {
		s1 := 0.82 * (1 - math.Exp(-float64(st)/900))
		acc[0].Points = append(acc[0].Points, Point{float64(st), s1 + 0.01*noise()})
		if st > 3600 {
			g := 1 - math.Exp(-float64(st-3600)/1500)
			acc[1].Points = append(acc[1].Points, Point{float64(st), 0.78 + 0.07*g + 0.01*noise()})
			acc[2].Points = append(acc[2].Points, Point{float64(st), 0.72 + 0.10*g + 0.01*noise()})
			acc[3].Points = append(acc[3].Points, Point{float64(st), 0.83 + 0.05*g + 0.005*noise()})
		}
	}
	return loss, acc, phases
}

func TestWriteCurvesExamples(t *testing.T) {
	dir := os.Getenv("RACNN_VIZ_EXAMPLES")
	if dir == "" {
		t.Skip("set RACNN_VIZ_EXAMPLES=dir to write example pictures")
	}
	loss, acc, phases := fakeRun()
	if err := Curves(loss, acc, phases, filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
	v := CurvesView{Title: "RA-CNN on CUB-200-2011 (VGG-19)", Loss: loss, Acc: acc, Phases: phases, Smooth: 0.9}
	if err := CurvesPNG(v, filepath.Join(dir, "curves_smooth.png")); err != nil {
		t.Fatal(err)
	}
	if err := CurvesPNG(CurvesView{Acc: acc, Phases: phases, Width: 800, Height: 400}, filepath.Join(dir, "curves_acc_only.png")); err != nil {
		t.Fatal(err)
	}
}

func TestWriteCurvesExamples2(t *testing.T) {
	dir := os.Getenv("RACNN_VIZ_EXAMPLES")
	if dir == "" {
		t.Skip("set RACNN_VIZ_EXAMPLES=dir to write example pictures")
	}
	loss, acc, phases := fakeRun()
	for i := range phases {
		phases[i].Label = fmt.Sprintf("phase %d", i+1)
	}
	if err := Curves(loss, acc, phases, filepath.Join(dir, "curves_unnamed_phases.png")); err != nil {
		t.Fatal(err)
	}
}
