package model_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// TestGoldenAutocastBF16 compares the model's bf16 forward and backward
// with PyTorch's under torch.autocast("cpu", torch.bfloat16) on the same
// weights and batch (scripts/golden_amp.py):
//
//	with torch.autocast("cpu", torch.bfloat16):
//	    out = model(source, inp)           # racnn_torch.RACNN, crop_fast
//	loss = sum(F.cross_entropy(l, labels) for l in out["logits"] + [out["fused"], out["fused12"]])
//	loss.backward()
//
// Each tensor must agree within bf16's tolerance (2⁻⁷ of its largest
// element, 2⁻⁴ for gradients, whose bf16 backward rounds more), and the Go bf16 result must be nearer
// PyTorch's bf16 result than PyTorch's own fp32 result is: a Go model that
// silently ran in fp32 would fail that.
func TestGoldenAutocastBF16(t *testing.T) {
	dev := model.TestDevice(t)
	if dev.IsCUDA() {
		t.Skip("the fixture is CPU autocast's bf16 kernels")
	}
	// One intra-op thread, as the fixture: bf16 sums split over threads round differently.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer torch.SetNumThreads(torch.NumThreads())
	torch.SetNumThreads(1)
	m, _, err := checkpoint.LoadModel("testdata/golden_model.safetensors", dev)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.SetPrecision(model.BF16); err != nil {
		t.Fatal(err)
	}
	sd, _, err := weights.ReadSafetensorsFile("testdata/golden_amp.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	io, _, err := weights.ReadSafetensorsFile("testdata/golden_io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	torch.WithScope(func() {
		get := func(sd *weights.StateDict, name string) *torch.Tensor {
			w, ok := sd.Get(name)
			if !ok {
				t.Fatalf("fixture has no %s", name)
			}
			v, err := nn.FromWeights(w)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		source, input, labels := get(io, "source"), get(io, "input"), get(io, "labels")
		out := m.Forward(source, input, true)
		loss := model.SumCrossEntropy(out, labels)
		loss.Backward()
		got := map[string]*torch.Tensor{"loss": loss.Reshape(1), "fused": out.Fused, "fused12": out.Fused12}
		for s, l := range out.Logits {
			got[fmt.Sprintf("logits%d", s+1)] = l
		}
		for s, b := range out.Boxes {
			got[fmt.Sprintf("boxes%d", s+1)] = b
		}
		for s, c := range out.Crops {
			got[fmt.Sprintf("crops%d", s+2)] = c
		}
		for _, name := range []string{"scale1.features.0.weight", "scale1.apn.fc1.weight", "scale1.apn.fc2.weight",
			"scale2.apn.fc2.bias", "scale2.features.3.weight", "scale3.classifier.weight", "fusion.weight"} {
			got["grad."+name] = m.Store.Get(name).Grad()
		}
		// rel is the largest |a − b| relative to the largest |b|.
		rel := func(a, b *torch.Tensor) float64 {
			d := a.ToDType(torch.Float64).Sub(b.ToDType(torch.Float64)).Abs().AmaxDims(nil, false).Item()
			return d / max(b.Abs().AmaxDims(nil, false).Item(), 1e-12)
		}
		var sumGo, sumFP32 float64
		for name, g := range got {
			if g.DType() != torch.Float32 {
				t.Errorf("%s is %v, want float32", name, g.DType())
			}
			want := get(sd, name)
			tol := 1.0 / 128
			if strings.HasPrefix(name, "grad.") {
				tol = 1.0 / 16
			}
			dGo, dFP32 := rel(g, want), rel(get(sd, "fp32."+name), want)
			sumGo, sumFP32 = sumGo+dGo, sumFP32+dFP32
			if !(dGo <= tol) {
				t.Errorf("%s: Go bf16 differs from PyTorch's bf16 by %.3g of its largest element (tolerance %.3g; PyTorch fp32 differs by %.3g)", name, dGo, tol, dFP32)
			}
			t.Logf("%-28s Go bf16 − PyTorch bf16 %.2e, PyTorch fp32 − PyTorch bf16 %.2e", name, dGo, dFP32)
		}
		if !(sumGo < sumFP32/2) {
			t.Errorf("Go's bf16 result is no nearer PyTorch's bf16 than fp32 is (summed relative differences %.3g against %.3g): did autocast run?", sumGo, sumFP32)
		}
	})
}
