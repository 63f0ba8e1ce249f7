package model

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/apn"
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
	dev := testDevice(t)
	if dev.IsCUDA() {
		t.Skip("the fixture is CPU autocast's bf16 kernels")
	}
	// One intra-op thread, as the fixture: bf16 sums split over threads round differently.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer torch.SetNumThreads(torch.NumThreads())
	torch.SetNumThreads(1)
	m, err := LoadFile("testdata/golden_model.safetensors", dev)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := m.SetPrecision(BF16); err != nil {
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
		loss := sumCrossEntropy(out, labels)
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

// Under bf16 the convolutions and classifiers run in bf16 (Maps is what the
// backbones return), while everything the losses, the metrics and the next
// scale read is float32: logits, features, boxes, raw boxes, crops, the
// fusion inputs and the pre-training targets. Both APN heads.
func TestAutocastOpDTypes(t *testing.T) {
	for _, head := range []string{apn.HeadFC, apn.HeadSoftArgmax} {
		t.Run(head, func(t *testing.T) {
			cfg := tiny()
			cfg.APN.Head = head
			cfg.ChannelsLast = true
			torch.ManualSeed(3)
			m := newModel(t, cfg)
			if err := m.SetPrecision(BF16); err != nil {
				t.Fatal(err)
			}
			torch.WithScope(func() {
				src := torch.Rand([]int64{2, 3, 48, 48})
				out := m.Forward(src, nil, true)
				want := func(what string, ts []*torch.Tensor, d torch.DType) {
					t.Helper()
					if len(ts) == 0 {
						t.Fatalf("no %s", what)
					}
					for i, x := range ts {
						if x.DType() != d {
							t.Errorf("%s[%d] is %v, want %v", what, i, x.DType(), d)
						}
					}
				}
				want("maps (backbone output)", out.Maps, torch.BFloat16)
				want("logits", append(out.Logits, out.Fused, out.Fused12), torch.Float32)
				want("features", out.Features, torch.Float32)
				want("boxes", out.Boxes, torch.Float32)
				want("raw boxes", out.RawBoxes, torch.Float32)
				want("crops", out.Crops, torch.Float32)
				all, first2 := m.FusionInputs(out.Features)
				want("fusion inputs", []*torch.Tensor{all, first2}, torch.Float32)
				tg := apn.Target{Half: 0.25, Peak: apn.PeakSquare}
				want("pre-training targets", m.PretrainTargets(src, out, tg, true), torch.Float32)
				sumCrossEntropy(out, torch.FromSlice([]int64{0, 1}, 2)).Backward()
				for _, p := range m.Store.Params() {
					if g := p.Grad(); g != nil && g.DType() != torch.Float32 {
						t.Fatalf("a grad is %v", g.DType())
					}
				}
				if torch.AutocastEnabled(torch.CPU) {
					t.Fatal("autocast left on after Forward")
				}
				// fp32 again: the same model runs without autocast.
				if err := m.SetPrecision(FP32); err != nil {
					t.Fatal(err)
				}
				want("fp32 maps", m.Forward(src, nil, false).Maps, torch.Float32)
			})
		})
	}
}

func TestSetPrecision(t *testing.T) {
	m := newModel(t, tiny())
	if m.Precision() != FP32 {
		t.Fatalf("default precision %s", m.Precision())
	}
	if err := m.SetPrecision(FP16); err == nil || !strings.Contains(err.Error(), "fp16 needs a CUDA device") {
		t.Fatalf("fp16 on cpu: %v", err)
	}
	if err := m.SetPrecision("int8"); err == nil {
		t.Fatal("int8 accepted")
	}
	if m.Precision() != FP32 {
		t.Fatalf("a refused precision changed it to %s", m.Precision())
	}
}
