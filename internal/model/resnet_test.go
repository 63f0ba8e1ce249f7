package model

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

func resNetConfig(backbone string) Config {
	cfg := Default()
	cfg.Backbone = backbone
	cfg.NumClasses = 3
	cfg.Scales = 2
	cfg.InputSize = [3]int64{64, 64, 64}
	cfg.APNHidden = 8
	cfg.ChannelsLast = false
	return cfg
}

// The registered parameters are torchvision's state_dict keys (under
// "scaleK.features."), in its order and shapes, for both depths, and the
// map side follows torchvision's rounding.
func TestResNetKeysAndSizes(t *testing.T) {
	for name, n := range map[string]int{"resnet50": 318, "resnet101": 624} {
		s := nn.NewStore(torch.CPU)
		if _, err := NewBackbone(s, "scale1", Config{Backbone: name}); err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, e := range s.Entries() {
			got = append(got, strings.TrimPrefix(e.Name, "scale1.features.")+" "+shapeString(e.T.Shape()))
		}
		for _, k := range resNetKeys(name) {
			want = append(want, k.Name+" "+shapeString(k.Shape))
		}
		s.Free()
		if !slices.Equal(got, want) || len(want) != n {
			t.Errorf("%s: %d keys, want %d (torchvision's without fc) as resNetKeys:\n got %v\nwant %v", name, len(got), n, got[:8], want[:8])
		}
	}
	for in, f := range map[int64]int64{448: 14, 224: 7, 64: 2, 65: 3, 32: 1} {
		if got := (Config{Backbone: "resnet50"}).FeatureSize(in); got != f {
			t.Errorf("FeatureSize(%d) = %d, want %d", in, got, f)
		}
	}
	if c := (Config{Backbone: "resnet101"}).FeatureChannels(); c != 2048 {
		t.Errorf("channels %d", c)
	}
}

// Both APN heads take ResNet features (2048 channels, 2×2 at 64 px), and a
// map too small for the FC head's pool is a config error.
func TestResNetAPNHeads(t *testing.T) {
	for _, head := range []string{"fc", "softargmax"} {
		cfg := resNetConfig("resnet50")
		cfg.APN.Head = head
		m := newModel(t, cfg)
		torch.WithScope(func() {
			src := torch.Rand([]int64{2, 3, 80, 96})
			var out *Output
			if err := torch.Try(func() { out = m.Forward(src, nil, true) }); err != nil {
				t.Fatal(err)
			}
			if sh := out.Maps[0].Shape(); !slices.Equal(sh, []int64{2, 2048, 2, 2}) {
				t.Errorf("%s: APN reads %v", head, sh)
			}
			if sh := out.Boxes[0].Shape(); !slices.Equal(sh, []int64{2, 3}) {
				t.Errorf("%s: boxes %v", head, sh)
			}
		})
	}
	cfg := resNetConfig("resnet50")
	cfg.InputSize[0] = 32
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "too small for the APN") {
		t.Errorf("32-px scale 1: %v", err)
	}
}

func shapeOnly(keys []weights.KeyShape) *weights.StateDict {
	sd := weights.NewStateDict()
	for _, k := range keys {
		sd.Set(k.Name, &weights.Tensor{DType: k.DType, Shape: k.Shape})
	}
	return sd
}

// A state dict of another backbone or depth is one line that names the
// mismatch and the model.backbone it is for.
func TestResNetImportErrors(t *testing.T) {
	r50, r101 := resNetKeys("resnet50"), resNetKeys("resnet101")
	vgg16 := vggKeys("vgg16")
	prefixed := func(p string, keys []weights.KeyShape) *weights.StateDict {
		sd := weights.NewStateDict()
		for _, k := range keys {
			sd.Set(p+k.Name, &weights.Tensor{DType: k.DType, Shape: k.Shape})
		}
		return sd
	}
	basic := []weights.KeyShape{{Name: "conv1.weight", Shape: []int64{64, 3, 7, 7}}}
	for st, n := range []int{2, 2, 2, 2} {
		for i := range n {
			basic = append(basic, weights.KeyShape{Name: "layer" + string(rune('1'+st)) + "." + string(rune('0'+i)) + ".conv2.weight", Shape: []int64{64, 64, 3, 3}})
		}
	}
	wide := slices.Clone(r50)
	for i, k := range wide {
		if k.Name == "layer1.0.conv2.weight" {
			wide[i].Shape = []int64{128, 128, 3, 3}
		}
	}
	for _, c := range []struct {
		backbone string
		sd       *weights.StateDict
		wants    []string
	}{
		{"resnet50", shapeOnly(r101), []string{"unexpected keys layer3.6.conv1.weight", "this looks like a resnet101 state dict — set model.backbone to resnet101"}},
		{"resnet101", shapeOnly(r50), []string{"missing keys layer3.6.conv1.weight", "set model.backbone to resnet50"}},
		{"vgg16", shapeOnly(r50), []string{"unexpected keys", "this looks like a resnet50 state dict — set model.backbone to resnet50"}},
		{"resnet50", shapeOnly(vgg16), []string{"missing keys conv1.weight", "this looks like a vgg16 state dict — set model.backbone to vgg16"}},
		{"resnet50", prefixed("module.", r50), []string{`the keys start with "module."`}},
		{"resnet50", prefixed("backbone.", r50), []string{"not a torchvision resnet50 state dict (its keys start backbone.conv1.weight"}},
		{"resnet50", shapeOnly(basic), []string{"resnet18 (basic blocks, which racnn does not build)"}},
		{"resnet50", shapeOnly(wide), []string{"layer1.0.conv2.weight has shape [128,128,3,3] in the file, the model expects [64,64,3,3]", "wide_resnet or resnext"}},
		{"resnet50", prefixed("", append([]weights.KeyShape{{Name: "conv1.0.weight", Shape: []int64{32, 3, 3, 3}}}, r50[1:]...)), []string{"deep stem"}},
	} {
		cfg := Config{Backbone: c.backbone}
		a, err := cfg.backboneArch()
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Pretrained("w.pth", c.sd, cfg)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "w.pth: ") {
			t.Errorf("%s: want one line starting with the file, got %v", c.backbone, err)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: want %q in\n%v", c.backbone, w, err)
			}
		}
	}
}

// TestImportRealTorchvisionResNet50 imports a real torchvision resnet50
// state dict (random weights, written to a temporary directory by
// scripts/resnet_state_dicts.py) from each format ImageNet weights come in:
// torch.save's zip format, its legacy format without the num_batches_tracked
// counters (as torchvision's original ImageNet files), and a timm-style
// safetensors file (torchvision's keys and fc). The backbone of every scale
// must then compute torchvision's layer4 features. Skipped where
// /usr/bin/python3 has no torchvision.
func TestImportRealTorchvisionResNet50(t *testing.T) {
	if err := exec.Command(python, "-c", "import torchvision").Run(); err != nil {
		t.Skipf("%s with torchvision is needed: %v", python, err)
	}
	dir := t.TempDir()
	start := time.Now()
	if out, err := exec.Command(python, "../../scripts/resnet_state_dicts.py", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("PyTorch wrote the state dicts in %v", time.Since(start).Round(time.Millisecond))
	check, _, err := weights.ReadSafetensorsFile(filepath.Join(dir, "resnet50_check.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *torch.Tensor {
		w, _ := check.Get(name)
		v, err := nn.FromWeights(w)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := newModel(t, resNetConfig("resnet50"))
	// The legacy file first: without counters in the file, the model keeps
	// New's (0).
	for _, file := range []string{"resnet50_legacy.pth", "resnet50.pth", "resnet50_timm.safetensors"} {
		path := filepath.Join(dir, file)
		torch.WithScope(func() {
			hashFillModel(t, m) // nothing of a previous import stays
			if err := m.ImportTorchvision(path); err != nil {
				t.Fatal(err)
			}
			n := m.Store.Get("scale2.features.layer4.2.bn3.num_batches_tracked").Item()
			if wantN := map[bool]float64{true: 0, false: 1234}[strings.Contains(file, "legacy")]; n != wantN {
				t.Errorf("%s: num_batches_tracked %v, want %v", file, n, wantN)
			}
			want := get("features")
			torch.NoGrad(func() {
				for s, sc := range m.Scales {
					rel := want.Abs().AmaxDims(nil, false).Item()
					assertClose(t, file+" layer4 features, scale "+string(rune('1'+s)), sc.Backbone.Forward(get("x"), false).DivScalar(rel), want.DivScalar(rel), 1e-5)
				}
			})
		})
	}
	deep := newModel(t, resNetConfig("resnet101"))
	err = deep.ImportTorchvision(filepath.Join(dir, "resnet50.pth"))
	if err == nil || !strings.Contains(err.Error(), "this looks like a resnet50 state dict — set model.backbone to resnet50") {
		t.Errorf("resnet50 file into resnet101: %v", err)
	}
	t.Logf("resnet50 file into resnet101: %.200s…", err)
}
