package loader

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/mnist"
	"github.com/racnn/racnn/internal/data/transform"
)

// End to end: cluttered-MNIST canvases written as PNGs (without clutter, so
// all ink is the digit's), read back by the folder reader and decoded by
// data.DecodeFileSized, go through the loader at the MNIST sizes (source
// 128, scale-1 input 48, random crop and flip); in every sample the bright
// pixels lie inside the box the loader reports, in both tensors.
func TestClutteredMNISTThroughTheLoader(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	digits := &mnist.Digits{Pix: make([]uint8, 60*28*28), Labels: make([]uint8, 60)}
	for i := range digits.Labels {
		digits.Labels[i] = uint8(i % 10)
		px := digits.Digit(i)
		w, h := 3+rng.IntN(10), 8+rng.IntN(12)
		x0, y0 := 2+rng.IntN(24-w), 2+rng.IntN(24-h)
		for y := y0; y < y0+h; y++ {
			for x := x0; x < x0+w; x++ {
				px[y*28+x] = 255
			}
		}
	}
	root := t.TempDir()
	if _, err := mnist.GenerateFrom(context.Background(), &mnist.Source{Train: digits}, mnist.Options{Out: root, Canvas: 128, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	ds, err := data.OpenFolder(root, "train")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Items) != 50 || len(ds.Classes) != 10 {
		t.Fatalf("%d items in %d classes, want 50 (5 of 6 per class) in 10", len(ds.Items), len(ds.Classes))
	}
	p, err := transform.New(transform.Config{Resize: 136, SourceSize: 128, InputSize: 48, Train: true, Norm: unit})
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(ds, p, Config{BatchSize: 16, Workers: 2, Shuffle: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range collect(t, l, 0) {
		for s := 0; s < b.N; s++ {
			if !b.HasBox[s] {
				t.Fatalf("item %d has no box", b.Indices[s])
			}
			if got, want := b.Labels[s], int64(ds.Items[b.Indices[s]].Label); got != want {
				t.Fatalf("label %d want %d", got, want)
			}
			box := b.Boxes[s]
			inkInside(t, b.Source[s*3*128*128:(s*3+1)*128*128], 128, box)
			f := 48.0 / 128
			inkInside(t, b.Input[s*3*48*48:(s*3+1)*48*48], 48, data.Box{X: box.X * f, Y: box.Y * f, W: box.W * f, H: box.H * f})
			n++
		}
	}
	if n != 50 {
		t.Fatalf("%d samples", n)
	}
}

// inkInside asserts that pixels brighter than 0.1 lie within the box (one
// pixel of slack for the resampling filter) and that the box holds ink.
func inkInside(t *testing.T, plane []float32, size int, b data.Box) {
	t.Helper()
	ink := 0
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			if plane[y*size+x] <= 0.1 {
				continue
			}
			cx, cy := float64(x)+0.5, float64(y)+0.5
			if cx < b.X-1 || cx > b.X+b.W+1 || cy < b.Y-1 || cy > b.Y+b.H+1 {
				t.Fatalf("ink at (%d,%d) outside box %+v", x, y, b)
			}
			ink++
		}
	}
	if ink == 0 && b.W > 1 && b.H > 1 {
		t.Fatalf("no ink in box %+v", b)
	}
}
