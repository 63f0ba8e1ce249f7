package model

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// Benchmarks of the whole model, reported in images per second; the same
// steps in PyTorch are scripts/bench_model.py, and scripts/bench-model.sh
// runs both. RACNN_THREADS sets libtorch's intra-op threads (default 2),
// RACNN_CHANNELS_LAST=0/1 overrides the configs' memory format,
// RACNN_BENCH_DEVICE=cuda runs on a GPU (each step ends with a device
// synchronisation, so the rate is the GPU's), RACNN_BENCH_BATCH=N overrides
// the batch size, RACNN_BENCH_SIZES=S1,S2,S3 the input sides (S1 also the
// source's), RACNN_PRECISION=fp32|tf32|bf16|fp16 sets the forward
// passes' precision (tf32: fp32 with TF32 matmuls and convolutions, fp32:
// without; the others with TF32 for what stays fp32, as runtime.tf32's
// default), and cuDNN autotuning is on (runtime.cudnn_benchmark's default).
//
//	go test -run '^$' -bench 'Model/demo' -benchtime 5x ./internal/model/
//
// A training step is forward (train mode) + the sum of the cross-entropies
// of every classifier (3 scales, fusion, fusion12) + backward through every
// parameter; optimiser updates are not included.

type benchCase struct {
	cfg    Config
	batch  int64
	source int64 // side of the source image the crops are cut from
}

func benchCases() map[string]benchCase {
	paper := Default() // VGG-19, 448 → 224 → 224, 200 classes
	demo := Small()    // small VGG-style net, 48 px per scale, 10 classes
	if v := os.Getenv("RACNN_CHANNELS_LAST"); v != "" {
		paper.ChannelsLast, demo.ChannelsLast = v == "1", v == "1"
	}
	resnet := paper // the paper's model on ResNet-50 backbones
	resnet.Backbone = "resnet50"
	cases := map[string]benchCase{
		"paper":    {cfg: paper, batch: 2, source: 448},
		"resnet50": {cfg: resnet, batch: 2, source: 448},
		"demo":     {cfg: demo, batch: 64, source: 128},
	}
	if n, err := strconv.Atoi(os.Getenv("RACNN_BENCH_BATCH")); err == nil && n > 0 {
		for k, c := range cases {
			c.batch = int64(n)
			cases[k] = c
		}
	}
	if sizes, ok := benchSizes(); ok {
		for k, c := range cases {
			c.cfg.InputSize, c.source = sizes, sizes[0]
			cases[k] = c
		}
	}
	return cases
}

// benchSizes reads RACNN_BENCH_SIZES ("224,112,112": the three scales'
// inputs; scale 1's is also the source side), for a quick run at smaller
// sizes than a case's own; false when unset.
func benchSizes() ([3]int64, bool) {
	var out [3]int64
	v := os.Getenv("RACNN_BENCH_SIZES")
	if v == "" {
		return out, false
	}
	parts := strings.Split(v, ",")
	if len(parts) != 3 {
		panic(fmt.Sprintf("RACNN_BENCH_SIZES=%q: want three sides, e.g. 224,112,112", v))
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			panic(fmt.Sprintf("RACNN_BENCH_SIZES=%q: %q is not a positive side in pixels", v, p))
		}
		out[i] = int64(n)
	}
	return out, true
}

type benchState struct {
	m                     *RACNN
	source, input, labels *torch.Tensor
}

var (
	benchCache  = map[string]*benchState{}
	benchWarmed = map[string]bool{}
)

func benchThreads() int {
	if n, err := strconv.Atoi(os.Getenv("RACNN_THREADS")); err == nil && n > 0 {
		return n
	}
	return 2
}

func BenchmarkModel(b *testing.B) {
	for _, name := range []string{"demo", "paper", "resnet50"} {
		for _, train := range []bool{false, true} {
			what := "forward"
			if train {
				what = "train"
			}
			b.Run(name+"/"+what, func(b *testing.B) { benchModel(b, name, train) })
		}
	}
}

func benchModel(b *testing.B, name string, train bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	torch.SetNumThreads(benchThreads())
	dev := envDevice(b, "RACNN_BENCH_DEVICE")
	st := benchCache[name]
	if st == nil {
		c := benchCases()[name]
		torch.ManualSeed(1)
		m, err := New(c.cfg, dev)
		if err != nil {
			b.Fatal(err)
		}
		p := os.Getenv("RACNN_PRECISION")
		torch.SetAllowTF32(p != "fp32", p != "fp32")
		torch.SetCuDNNBenchmark(true)
		if p == "tf32" {
			p = FP32
		}
		if err := m.SetPrecision(p); err != nil {
			b.Fatal(err)
		}
		st = &benchState{m: m}
		torch.WithScope(func() {
			st.source = torch.Rand([]int64{c.batch, 3, c.source, c.source}, torch.OnDevice(dev)).Keep()
			st.input = torch.InterpolateBilinear(st.source, c.cfg.InputSize[0], c.cfg.InputSize[0], false, false).Keep()
			lab := make([]int64, c.batch)
			for i := range lab {
				lab[i] = int64(i) % c.cfg.NumClasses
			}
			st.labels = torch.FromSlice(lab, c.batch).To(dev).Keep()
		})
		benchCache[name] = st
	}
	step := func() {
		torch.WithScope(func() {
			if !train {
				torch.NoGrad(func() { st.m.Forward(st.source, st.input, false).Fused.Sum().Item() })
				return
			}
			sumCrossEntropy(st.m.Forward(st.source, st.input, true), st.labels).Backward()
			torch.ZeroGrad(st.m.Store.Params(), true)
		})
		if dev.IsCUDA() {
			torch.Synchronize(dev)
		}
	}
	if key := name + fmt.Sprint(train); !benchWarmed[key] {
		step() // warm-up: oneDNN primitive caches, allocator
		benchWarmed[key] = true
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(int64(b.N)*st.input.Size(0))/b.Elapsed().Seconds(), "img/s")
}
