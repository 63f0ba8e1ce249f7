// Command bench times one training step of a small VGG-style CNN through
// racnn's binding, and the cost of single calls into it. scripts/bench-binding.sh
// runs it side by side with the same step in PyTorch (scripts/bench_binding.py)
// and prints the table; see that script for the comparison's rules.
//
//	go run ./internal/torch/bench -threads 2 -channels-last
//	go run ./internal/torch/bench -calls
//
// Output is one line of key=value pairs per measurement.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/racnn/racnn/internal/torch"
)

func main() {
	threads := flag.Int("threads", 1, "libtorch intra-op threads, set on the locked thread that runs the steps")
	channelsLast := flag.Bool("channels-last", false, "NHWC input and conv weights")
	batch := flag.Int64("batch", 16, "batch size")
	side := flag.Int64("size", 64, "input height and width")
	warmup := flag.Int("warmup", 3, "untimed steps first")
	steps := flag.Int("steps", 10, "timed steps")
	device := flag.String("device", "cpu", "cpu or cuda[:N]")
	calls := flag.Bool("calls", false, "time single calls through the binding instead of training steps")
	flag.Parse()
	dev, err := torch.ParseDevice(*device)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *calls {
		err = torch.OnThread(1, func() error { timeCalls(); return nil })
	} else {
		err = torch.OnThread(*threads, func() error {
			return timeSteps(dev, *threads, *channelsLast, *batch, *side, *warmup, *steps)
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// vgg is conv64-conv64-pool-conv128-conv128-pool-conv256-pool-gap-fc10, all
// convolutions 3x3 with padding 1 and ReLU; scripts/bench_binding.py builds
// the same network.
type vgg struct {
	convs  [][2]*torch.Tensor // weight, bias
	fc     [2]*torch.Tensor
	params []*torch.Tensor
}

var vggPlan = []int64{64, 64, 0, 128, 128, 0, 256, 0} // 0: 2x2 max pool

func newVGG(dev torch.Device, channelsLast bool) *vgg {
	m := &vgg{}
	torch.WithScope(func() {
		in := int64(3)
		for _, c := range vggPlan {
			if c == 0 {
				continue
			}
			w := torch.Randn([]int64{c, in, 3, 3}, torch.OnDevice(dev)).MulScalar(math.Sqrt(2 / float64(in*9)))
			if channelsLast {
				w = w.ChannelsLast()
			}
			w = w.Keep().SetRequiresGrad(true)
			b := torch.Zeros([]int64{c}, torch.OnDevice(dev)).Keep().SetRequiresGrad(true)
			m.convs = append(m.convs, [2]*torch.Tensor{w, b})
			m.params = append(m.params, w, b)
			in = c
		}
		fw := torch.Randn([]int64{10, in}, torch.OnDevice(dev)).MulScalar(math.Sqrt(1 / float64(in))).Keep().SetRequiresGrad(true)
		fb := torch.Zeros([]int64{10}, torch.OnDevice(dev)).Keep().SetRequiresGrad(true)
		m.fc = [2]*torch.Tensor{fw, fb}
		m.params = append(m.params, fw, fb)
	})
	return m
}

func (m *vgg) forward(x *torch.Tensor) *torch.Tensor {
	k := 0
	for _, c := range vggPlan {
		if c == 0 {
			x = torch.MaxPool2d(x, [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{}, false)
			continue
		}
		x = torch.Conv2d(x, m.convs[k][0], m.convs[k][1], torch.Conv2dOpts{Padding: [2]int64{1, 1}}).Relu()
		k++
	}
	x = x.MeanDims([]int64{2, 3}, false) // global average pool
	return torch.Linear(x, m.fc[0], m.fc[1])
}

func timeSteps(dev torch.Device, threads int, channelsLast bool, batch, side int64, warmup, steps int) error {
	torch.ManualSeed(0)
	m := newVGG(dev, channelsLast)
	opt := torch.NewSGD([]*torch.ParamGroup{{Params: m.params, LR: 0.01}}, 0.9, 0, false)
	defer opt.Free()
	var x, y *torch.Tensor
	torch.WithScope(func() {
		x = torch.Randn([]int64{batch, 3, side, side}, torch.OnDevice(dev))
		if channelsLast {
			x = x.ChannelsLast()
		}
		x.Keep()
		labels := make([]int64, batch)
		for i := range labels {
			labels[i] = int64(i % 10)
		}
		y = torch.FromSlice(labels, batch).To(dev).Keep()
	})
	defer x.Free()
	defer y.Free()
	times := make([]float64, 0, steps)
	var loss float64
	for s := 0; s < warmup+steps; s++ {
		t0 := time.Now()
		torch.WithScope(func() {
			opt.ZeroGrad()
			l := torch.CrossEntropy(m.forward(x), y, torch.ReduceMean, 0)
			l.Backward()
			opt.Step()
			loss = l.Item() // waits for the device
		})
		if s >= warmup {
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	sort.Float64s(times)
	mean := 0.0
	for _, t := range times {
		mean += t
	}
	mean /= float64(len(times))
	fmt.Printf("side=racnn device=%s threads=%d num_threads=%d channels_last=%v batch=%d size=%d steps=%d median_ms=%.2f mean_ms=%.2f min_ms=%.2f loss=%.4f\n",
		dev, threads, torch.NumThreads(), channelsLast, batch, side, steps, times[len(times)/2], mean, times[0], loss)
	return nil
}

func timeCalls() {
	const n = 100000
	per := func(f func()) float64 {
		f() // warm
		t0 := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		return float64(time.Since(t0).Nanoseconds()) / n
	}
	noop := per(torch.CgoNoop)
	var x *torch.Tensor
	torch.WithScope(func() { x = torch.FromSlice([]float32{1}, 1).Keep() })
	defer x.Free()
	add := per(func() { x.AddScalar(1).Free() })
	// Registered in a scope and freed when it closes, as in a training step.
	scoped := per(func() {
		s := torch.NewScope()
		for i := 0; i < 100; i++ {
			x.AddScalar(1)
		}
		s.Close()
	}) / 100
	numel := per(func() { x.Numel() })
	fmt.Printf("side=racnn cgo_noop_ns=%.1f add_scalar_free_ns=%.1f add_scalar_scope_ns=%.1f numel_ns=%.1f\n", noop, add, scoped, numel)
}
