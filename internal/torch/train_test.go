package torch

import (
	"math"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallCNN is conv(3x3, 8)-relu-maxpool-conv(3x3, 16)-relu-maxpool-linear,
// written with the binding's functional ops, for the leak and learning tests.
type smallCNN struct {
	params []*Tensor
}

func newSmallCNN(inC, side, classes int64, dev Device) *smallCNN {
	he := func(shape []int64, fanIn int64) *Tensor {
		return Randn(shape, OnDevice(dev)).MulScalar(math.Sqrt(2 / float64(fanIn))).Keep().SetRequiresGrad(true)
	}
	zeros := func(n int64) *Tensor { return Zeros([]int64{n}, OnDevice(dev)).Keep().SetRequiresGrad(true) }
	var m smallCNN
	WithScope(func() {
		flat := 16 * (side / 4) * (side / 4)
		m.params = []*Tensor{
			he([]int64{8, inC, 3, 3}, inC*9), zeros(8),
			he([]int64{16, 8, 3, 3}, 8*9), zeros(16),
			he([]int64{classes, flat}, flat), zeros(classes),
		}
	})
	return &m
}

func (m *smallCNN) forward(x *Tensor) *Tensor {
	p := m.params
	pool := func(t *Tensor) *Tensor { return MaxPool2d(t, [2]int64{2, 2}, [2]int64{}, [2]int64{}, false) }
	h := pool(Conv2d(x, p[0], p[1], Conv2dOpts{Padding: [2]int64{1, 1}}).Relu())
	h = pool(Conv2d(h, p[2], p[3], Conv2dOpts{Padding: [2]int64{1, 1}}).Relu())
	return Linear(h.Flatten(1, -1), p[4], p[5])
}

func (m *smallCNN) free() {
	for _, p := range m.params {
		p.Free()
	}
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestLeakTrainingSteps runs 500 training steps, each in a Scope, and checks
// that the number of live handles is exactly flat after warm-up and that
// the process RSS stays within a few percent.
func TestLeakTrainingSteps(t *testing.T) {
	const steps, warmup, batch = 500, 50, 16
	err := OnThread(1, func() error {
		ManualSeed(1)
		m := newSmallCNN(1, 16, 4, testDev)
		defer m.free()
		opt := NewSGD([]*ParamGroup{{Params: m.params, LR: 0.01}}, 0.9, 0, false)
		defer opt.Free()
		rng := rand.New(rand.NewSource(1))
		xs := make([]float32, batch*16*16)
		ys := make([]int64, batch)

		var live0 int
		var rss0, rssMax int64
		start := time.Now()
		for s := 1; s <= steps; s++ {
			for i := range xs {
				xs[i] = float32(rng.NormFloat64())
			}
			for i := range ys {
				ys[i] = int64(rng.Intn(4))
			}
			var loss float64
			WithScope(func() {
				x, y := onDev(xs, batch, 1, 16, 16), onDev(ys, batch)
				l := CrossEntropy(m.forward(x), y, ReduceMean, 0)
				opt.ZeroGrad()
				l.Backward()
				opt.Step()
				loss = l.Item()
			})
			if math.IsNaN(loss) {
				t.Fatalf("step %d: loss NaN", s)
			}
			switch {
			case s == warmup:
				runtime.GC()
				live0, rss0 = Live(), rssBytes(t)
			case s > warmup:
				if Live() != live0 {
					t.Fatalf("step %d: %d live handles, %d after warm-up", s, Live(), live0)
				}
				if s%50 == 0 {
					runtime.GC()
					if r := rssBytes(t); r > rssMax {
						rssMax = r
					}
				}
			}
		}
		rss1 := rssBytes(t)
		growth := float64(rssMax-rss0) / float64(rss0)
		t.Logf("%d steps in %v: live handles %d (flat after step %d), RSS %.1f MiB after warm-up, %.1f MiB at the end, max %.1f MiB (%+.2f%%)",
			steps, time.Since(start).Round(time.Millisecond), live0, warmup, float64(rss0)/(1<<20), float64(rss1)/(1<<20),
			float64(rssMax)/(1<<20), 100*growth)
		if growth > 0.03 {
			t.Errorf("RSS grew %.1f%% after warm-up (%.1f → %.1f MiB)", 100*growth, float64(rss0)/(1<<20), float64(rssMax)/(1<<20))
		}
		// The check has teeth: one kept tensor per step shows up.
		var leaked []*Tensor
		for i := 0; i < 3; i++ {
			WithScope(func() { leaked = append(leaked, m.forward(onDev(xs, batch, 1, 16, 16)).Keep()) })
		}
		if Live() != live0+3 {
			t.Errorf("3 kept tensors: live %d, want %d", Live(), live0+3)
		}
		for _, l := range leaked {
			l.Free()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// quadrantImages generates n 16x16 images: noise plus a bright square in
// one of the four quadrants, the label.
func quadrantImages(rng *rand.Rand, n int) ([]float32, []int64) {
	const side = 16
	xs := make([]float32, n*side*side)
	ys := make([]int64, n)
	for i := 0; i < n; i++ {
		img := xs[i*side*side : (i+1)*side*side]
		for j := range img {
			img[j] = float32(0.5 * rng.NormFloat64())
		}
		q := rng.Intn(4)
		ys[i] = int64(q)
		sz := 3 + rng.Intn(3)
		r0 := (q/2)*8 + rng.Intn(8-sz+1)
		c0 := (q%2)*8 + rng.Intn(8-sz+1)
		for r := r0; r < r0+sz; r++ {
			for c := c0; c < c0+sz; c++ {
				img[r*side+c] += 1.5
			}
		}
	}
	return xs, ys
}

// TestLearnsQuadrants trains the small CNN through the binding on generated
// images and asserts on held-out accuracy (chance is 25%).
func TestLearnsQuadrants(t *testing.T) {
	const trainN, testN, batch, epochs = 1024, 512, 32, 3
	rng := rand.New(rand.NewSource(42))
	trX, trY := quadrantImages(rng, trainN)
	teX, teY := quadrantImages(rng, testN)
	start := time.Now()
	err := OnThread(1, func() error {
		ManualSeed(42)
		m := newSmallCNN(1, 16, 4, testDev)
		defer m.free()
		opt := NewSGD([]*ParamGroup{{Params: m.params, LR: 0.05}}, 0.9, 0, false)
		defer opt.Free()
		var first, last float64
		for e := 0; e < epochs; e++ {
			for b := 0; b < trainN/batch; b++ {
				WithScope(func() {
					x := onDev(trX[b*batch*256:(b+1)*batch*256], batch, 1, 16, 16)
					y := onDev(trY[b*batch:(b+1)*batch], batch)
					l := CrossEntropy(m.forward(x), y, ReduceMean, 0)
					opt.ZeroGrad()
					l.Backward()
					opt.Step()
					last = l.Item()
					if e == 0 && b == 0 {
						first = last
					}
				})
			}
		}
		correct := 0
		NoGrad(func() {
			WithScope(func() {
				pred := m.forward(onDev(teX, testN, 1, 16, 16)).Argmax(1, false).Int64s()
				for i, p := range pred {
					if p == teY[i] {
						correct++
					}
				}
			})
		})
		acc := float64(correct) / testN
		t.Logf("loss %.3f → %.3f, held-out accuracy %.1f%% (%d/%d), %v", first, last, 100*acc, correct, testN,
			time.Since(start).Round(time.Millisecond))
		if acc < 0.9 {
			t.Errorf("held-out accuracy %.1f%%, want ≥ 90%% (chance 25%%)", 100*acc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
