package model

import (
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/torch"
)

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
