package model_test

import (
	"testing"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// TestGoldenPyTorch compares the Go forward and gradients with PyTorch's
// (scripts/golden_model.py, which builds the same RA-CNN with PyTorch
// modules and its own crop, and runs it in float64):
//
//	out = model(source.double(), inp.double())   # racnn_torch.RACNN, crop_reference
//	loss = sum(F.cross_entropy(l, labels) for l in out["logits"] + [out["fused"], out["fused12"]])
//	loss.backward()
//
// for both crop modes. The fixture is a racnn checkpoint, read as racnn
// eval reads one (checkpoint.LoadModel: the model built from the run config
// PyTorch wrote in its metadata).
func TestGoldenPyTorch(t *testing.T) {
	dev := model.TestDevice(t)
	m, _, err := checkpoint.LoadModel("testdata/golden_model.safetensors", dev)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	sd, _, err := weights.ReadSafetensorsFile("testdata/golden_io.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	torch.WithScope(func() {
		get := func(name string) *torch.Tensor {
			w, ok := sd.Get(name)
			if !ok {
				t.Fatalf("fixture has no %s", name)
			}
			v, err := nn.FromWeights(w)
			if err != nil {
				t.Fatal(err)
			}
			return v.To(dev)
		}
		source, input, labels := get("source"), get("input"), get("labels")
		worst, worstGrad := 0.0, 0.0
		for _, mode := range []string{"boxcar", "grid"} {
			c := m.Cfg.APN
			c.Mode = mode
			if err := m.SetAPNConfig(c); err != nil {
				t.Fatal(err)
			}
			torch.ZeroGrad(m.Store.Params(), true)
			out := m.Forward(source, input, true)
			track := func(d float64) {
				if d > worst {
					worst = d
				}
			}
			for s, l := range out.Logits {
				track(model.AssertClose(t, mode+" logits", l, get(mode+".logits"+string(rune('1'+s))), 1e-4))
			}
			for s, b := range out.Boxes {
				track(model.AssertClose(t, mode+" boxes", b, get(mode+".boxes"+string(rune('1'+s))), 1e-5))
			}
			for s, c := range out.Crops {
				track(model.AssertClose(t, mode+" crops", c, get("crops"+string(rune('2'+s))), 1e-4))
			}
			track(model.AssertClose(t, mode+" fused", out.Fused, get(mode+".fused"), 1e-4))
			track(model.AssertClose(t, mode+" fused12", out.Fused12, get(mode+".fused12"), 1e-4))
			loss := model.SumCrossEntropy(out, labels)
			track(model.AssertClose(t, mode+" loss", loss.Reshape(1), get(mode+".loss"), 1e-4))
			loss.Backward()
			for _, name := range []string{"scale1.apn.fc1.bias", "scale1.apn.fc2.weight", "scale1.apn.fc2.bias",
				"scale2.apn.fc2.weight", "scale2.apn.fc2.bias", "scale2.features.0.weight"} {
				want := get(mode + ".grad." + name)
				// Gradients: relative to their largest element.
				scale := want.Abs().AmaxDims(nil, false).Item()
				d := model.AssertClose(t, mode+" grad "+name, m.Store.Get(name).Grad().DivScalar(scale), want.DivScalar(scale), 1e-4)
				if d > worstGrad {
					worstGrad = d
				}
			}
		}
		t.Logf("on %s: largest |Go − PyTorch| over logits, boxes, crops, fused, loss: %.2g; gradients (relative to their largest element): %.2g", dev, worst, worstGrad)
	})
}
