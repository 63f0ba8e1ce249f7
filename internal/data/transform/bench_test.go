package transform

import (
	"math/rand/v2"
	"testing"

	"github.com/racnn/racnn/internal/data"
)

// BenchmarkTrain448 is the transform half of the data path: a 500×375 image
// → shorter side 448 → random 448 crop → flip → normalised float32 CHW.
func BenchmarkTrain448(b *testing.B) {
	img := &data.Image{W: 500, H: 375, Pix: make([]uint8, 500*375*3)}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	p, err := New(Config{SourceSize: 448, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, p.SourceLen())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(img, 500, 375, nil, r, dst, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMNIST128to48 renders a cluttered-MNIST canvas as a 128 source
// and a 48 scale-1 input.
func BenchmarkMNIST128to48(b *testing.B) {
	img := &data.Image{W: 128, H: 128, Pix: make([]uint8, 128*128*3)}
	p, err := New(Config{SourceSize: 128, InputSize: 48, Train: true})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	src := make([]float32, p.SourceLen())
	in := make([]float32, p.InputLen())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Apply(img, 128, 128, nil, r, src, in); err != nil {
			b.Fatal(err)
		}
	}
}
