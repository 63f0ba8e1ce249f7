package torch

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// Golden checks: testdata/golden_binding.json holds PyTorch 1.13's results
// (scripts/golden_binding.py, run with Debian's /usr/bin/python3) for the
// binding's ops and optimisers on fixed inputs; each case is replayed here
// through the Go binding. The Python a case mirrors is in that script.

type goldenTensor struct {
	DType string    `json:"dtype"`
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

type goldenCase struct {
	Name    string                  `json:"name"`
	Op      string                  `json:"op"`
	Args    map[string]any          `json:"args"`
	Inputs  map[string]goldenTensor `json:"inputs"`
	Outputs map[string]goldenTensor `json:"outputs"`
}

type goldenOptimRun struct {
	Name   string         `json:"name"`
	Kind   string         `json:"kind"`
	Config map[string]any `json:"config"`
	Groups []struct {
		LR          float64 `json:"lr"`
		WeightDecay float64 `json:"weight_decay"`
	} `json:"groups"`
	Losses []float64              `json:"losses"`
	Params []map[string][]float64 `json:"params"`
}

type goldenFile struct {
	TorchVersion string       `json:"torch_version"`
	Cases        []goldenCase `json:"cases"`
	Optim        struct {
		X          goldenTensor            `json:"x"`
		Target     goldenTensor            `json:"target"`
		Init       map[string]goldenTensor `json:"init"`
		ExtraSteps []int                   `json:"extra_steps"`
		Runs       []goldenOptimRun        `json:"runs"`
	} `json:"optim"`
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_binding.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/golden_binding.py)", err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// tensor builds g on the test device with its dtype.
func (g goldenTensor) tensor() *Tensor {
	switch g.DType {
	case "int64":
		v := make([]int64, len(g.Data))
		for i, x := range g.Data {
			v[i] = int64(x)
		}
		return onDev(v, g.Shape...)
	case "float32":
		v := make([]float32, len(g.Data))
		for i, x := range g.Data {
			v[i] = float32(x)
		}
		return onDev(v, g.Shape...)
	}
	return onDev(g.Data, g.Shape...)
}

func argInts(a map[string]any, k string) [2]int64 {
	v := a[k].([]any)
	return [2]int64{int64(v[0].(float64)), int64(v[1].(float64))}
}

func argInt64s(a map[string]any, k string) []int64 {
	var out []int64
	for _, x := range a[k].([]any) {
		out = append(out, int64(x.(float64)))
	}
	return out
}

func argF(a map[string]any, k string) float64 { return a[k].(float64) }
func argB(a map[string]any, k string) bool    { return a[k].(bool) }

var gridModes = map[string]GridMode{"bilinear": GridBilinear, "nearest": GridNearest}
var gridPads = map[string]GridPadding{"zeros": PadZeros, "border": PadBorder, "reflection": PadReflection}
var reductions = map[string]Reduction{"none": ReduceNone, "mean": ReduceMean, "sum": ReduceSum}

// runGolden replays one case: the Go call mirrors the Python call of the
// same op in scripts/golden_binding.py.
func runGolden(c goldenCase, in map[string]*Tensor) map[string]*Tensor {
	a := c.Args
	switch c.Op {
	case "conv2d":
		return map[string]*Tensor{"out": Conv2d(in["x"], in["w"], in["b"], Conv2dOpts{
			Stride: argInts(a, "stride"), Padding: argInts(a, "padding"), Dilation: argInts(a, "dilation"),
			Groups: int64(argF(a, "groups"))})}
	case "max_pool2d":
		return map[string]*Tensor{"out": MaxPool2d(in["x"], argInts(a, "kernel"), argInts(a, "stride"),
			argInts(a, "padding"), argB(a, "ceil"))}
	case "avg_pool2d":
		return map[string]*Tensor{"out": AvgPool2d(in["x"], argInts(a, "kernel"), argInts(a, "stride"),
			argInts(a, "padding"), argB(a, "ceil"))}
	case "adaptive_avg_pool2d":
		s := argInts(a, "size")
		return map[string]*Tensor{"out": AdaptiveAvgPool2d(in["x"], s[0], s[1])}
	case "interpolate":
		s := argInts(a, "size")
		return map[string]*Tensor{"out": InterpolateBilinear(in["x"], s[0], s[1], argB(a, "align_corners"),
			argB(a, "antialias"))}
	case "affine_grid":
		return map[string]*Tensor{"out": AffineGrid(in["theta"], argInt64s(a, "size"), argB(a, "align_corners"))}
	case "grid_sample":
		return map[string]*Tensor{"out": GridSample(in["x"], in["grid"], gridModes[a["mode"].(string)],
			gridPads[a["padding"].(string)], argB(a, "align_corners"))}
	case "affine_grid_sample":
		grid := AffineGrid(in["theta"], argInt64s(a, "size"), false)
		return map[string]*Tensor{"out": GridSample(in["x"], grid, GridBilinear, PadZeros, false)}
	case "cross_entropy":
		return map[string]*Tensor{"out": CrossEntropy(in["logits"], in["target"], reductions[a["reduction"].(string)],
			argF(a, "label_smoothing"))}
	case "log_softmax_nll":
		logp := in["logits"].LogSoftmax(1)
		return map[string]*Tensor{"logp": logp, "softmax": in["logits"].Softmax(1),
			"nll": NLLLoss(logp, in["target"], ReduceMean)}
	case "normalize":
		return map[string]*Tensor{"out": Normalize(in["x"], argF(a, "p"), int64(argF(a, "dim")), argF(a, "eps"))}
	case "batch_norm":
		rm, rv := in["running_mean"], in["running_var"]
		out := BatchNorm(in["x"], in["weight"], in["bias"], rm, rv, argB(a, "train"), argF(a, "momentum"), argF(a, "eps"))
		return map[string]*Tensor{"out": out, "running_mean": rm, "running_var": rv}
	case "topk":
		v, i := in["x"].TopK(int64(argF(a, "k")), int64(argF(a, "dim")), argB(a, "largest"))
		return map[string]*Tensor{"values": v, "indices": i}
	case "linear":
		return map[string]*Tensor{"out": Linear(in["x"], in["w"], in["b"])}
	case "matmul":
		return map[string]*Tensor{"out": in["a"].Matmul(in["b"])}
	}
	panic(fmt.Sprintf("golden op %q has no Go replay", c.Op))
}

// closeTo compares got with want elementwise: |g-w| <= atol + rtol*|w|.
func closeTo(got, want []float64, atol, rtol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	bad, worst, wi := 0, 0.0, -1
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if !(d <= atol+rtol*math.Abs(want[i])) {
			bad++
			if d > worst || math.IsNaN(d) {
				worst, wi = d, i
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d values differ; worst [%d] got %.17g want %.17g", bad, len(got), wi, got[wi], want[wi])
	}
	return nil
}

func TestGoldenOps(t *testing.T) {
	g := loadGolden(t)
	if len(g.Cases) < 25 {
		t.Fatalf("fixture has only %d cases", len(g.Cases))
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			WithScope(func() {
				in := map[string]*Tensor{}
				for k, v := range c.Inputs {
					in[k] = v.tensor()
				}
				var out map[string]*Tensor
				if err := Try(func() { out = runGolden(c, in) }); err != nil {
					t.Fatal(err)
				}
				for k, want := range c.Outputs {
					got := out[k]
					if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape) {
						t.Fatalf("%s: shape %v, PyTorch %v", k, got.Shape(), want.Shape)
					}
					// Same libtorch on the CPU: agreement to rounding. float32
					// cases, and other devices' kernels, get float32 tolerance.
					atol, rtol := 1e-12, 1e-10
					if want.DType == "float32" || testDev != CPU {
						atol, rtol = 1e-6, 1e-5
					}
					if err := closeTo(got.Float64s(), want.Data, atol, rtol); err != nil {
						t.Errorf("%s: %v", k, err)
					}
				}
			})
		})
	}
}
