package model

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// TestGoldenResNet50 compares a 3-scale RA-CNN with torchvision ResNet-50
// backbones, at 64 px per scale, with PyTorch's (scripts/golden_resnet.py,
// float64, torchvision.models.resnet50's layers):
//
//	f = model.scale1.features; f.eval(); f(inp)   # features.eval
//	f.train(); f(inp)                              # features.train
//	model.eval(); out = model(source, inp)         # crop_reference, running statistics
//	loss = sum(F.cross_entropy(l, labels) for l in out["logits"] + [out["fused"], out["fused12"]])
//	loss.backward()
//
// within the VGG golden test's tolerances. The features on batch
// statistics may also be up to twice as far from float64 as PyTorch's own
// float32 pass (the fixture's features.train_f32_error): over 2×2 maps of
// 2 images, batch statistics amplify rounding.
//
// The weights are not in the fixture: both sides compute them from the
// parameter names (hashFill). The Go model runs channels-last, as the
// shipped configs do.
func TestGoldenResNet50(t *testing.T) {
	dev := testDevice(t)
	sd, meta, err := weights.ReadSafetensorsFile("testdata/golden_resnet.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(meta["racnn.model"]), &cfg); err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	hashFillModel(t, m)
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
		// Relative to the reference's largest element.
		rel := func(what string, got, want *torch.Tensor, tol float64) float64 {
			scale := want.Abs().AmaxDims(nil, false).Item()
			return assertClose(t, what, got.DivScalar(scale), want.DivScalar(scale), tol)
		}
		source, input, labels := get("source"), get("input"), get("labels")
		var worstFeat float64
		torch.NoGrad(func() {
			f32err := get("features.train_f32_error").Item()
			for _, mode := range []string{"eval", "train"} {
				f := m.Scales[0].Backbone.Forward(input, mode == "train")
				if sh := f.Shape(); sh[1] != 2048 || sh[2] != 2 || sh[3] != 2 {
					t.Fatalf("features %v; want [2, 2048, 2, 2] (stride 32)", sh)
				}
				tol := 1e-5
				if mode == "train" {
					tol = max(tol, 2*f32err)
				}
				worstFeat = max(worstFeat, rel("features."+mode, f, get("features."+mode), tol))
			}
		})
		hashFillModel(t, m) // the batch-statistics pass moved scale 1's running ones
		out := m.Forward(source, input, false)
		worst := 0.0
		track := func(d float64) { worst = max(worst, d) }
		for s, l := range out.Logits {
			track(assertClose(t, "logits", l, get("logits"+string(rune('1'+s))), 1e-4))
		}
		for s, b := range out.Boxes {
			track(assertClose(t, "boxes", b, get("boxes"+string(rune('1'+s))), 1e-5))
		}
		for s, c := range out.Crops {
			track(assertClose(t, "crops", c, get("crops"+string(rune('2'+s))), 1e-4))
		}
		track(assertClose(t, "fused", out.Fused, get("fused"), 1e-4))
		track(assertClose(t, "fused12", out.Fused12, get("fused12"), 1e-4))
		loss := sumCrossEntropy(out, labels)
		track(assertClose(t, "loss", loss.Reshape(1), get("loss"), 1e-4))
		loss.Backward()
		worstGrad := 0.0
		for _, name := range strings.Split(meta["racnn.grads"], ",") {
			g := m.Store.Get(name).Grad()
			if g == nil {
				t.Fatalf("%s has no gradient", name)
			}
			worstGrad = max(worstGrad, rel("grad "+name, g, get("grad."+name), 1e-4))
		}
		t.Logf("on %s: largest |Go − PyTorch| relative to the largest element: features %.2g (PyTorch float32 on batch statistics: %.2g), gradients %.2g; over logits, boxes, crops, fused, loss: %.2g",
			dev, worstFeat, get("features.train_f32_error").Item(), worstGrad, worst)
	})
}

// hashFillModel sets every float tensor of m to hashFill's values.
func hashFillModel(t *testing.T, m *RACNN) {
	t.Helper()
	err := torch.Try(func() {
		torch.NoGrad(func() {
			torch.WithScope(func() {
				for _, e := range m.Store.Entries() {
					if strings.HasSuffix(e.Name, "num_batches_tracked") {
						continue // 0, as New leaves it
					}
					sh := e.T.Shape()
					e.T.CopyFrom(torch.FromSlice(hashFill(e.Name, sh), sh...).To(m.Device()))
				}
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hashFill is scripts/golden_resnet.py's hash_fill: each value from the
// splitmix64 hash of the FNV-1a hash of name plus the element's index, in
// float64 arithmetic rounded once to float32, so Go and Python agree bit
// for bit without storing ResNet-50's weights.
func hashFill(name string, shape []int64) []float32 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 0x100000001B3
	}
	out := make([]float32, n)
	for i := range out {
		x := h + uint64(i)
		x *= 0x9E3779B97F4A7C15
		x ^= x >> 30
		x *= 0xBF58476D1CE4E5B9
		x ^= x >> 27
		x *= 0x94D049BB133111EB
		x ^= x >> 31
		u := float64(x>>11) / float64(uint64(1)<<53)
		v := 2*u - 1
		var a float64
		switch {
		case strings.HasSuffix(name, "running_var"):
			a = 1 + 0.5*u
		case strings.HasSuffix(name, "running_mean") || strings.HasSuffix(name, ".bias"):
			a = 0.1 * v
		case strings.HasSuffix(name, "bn3.weight"):
			a = 0.2 * (1 + 0.2*v)
		case len(shape) == 1: // batch-norm weight
			a = 1 + 0.2*v
		case strings.Contains(name, ".apn.fc1."):
			a = v * 3 * math.Sqrt(3.0/float64(shape[1]))
		case strings.Contains(name, ".apn.") || strings.Contains(name, "classifier") || strings.Contains(name, "fusion"):
			a = v * math.Sqrt(3.0)
		default: // convolutions
			a = v * math.Sqrt(6.0/float64(n/shape[0]))
		}
		out[i] = float32(a)
	}
	return out
}
