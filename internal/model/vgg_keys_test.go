package model

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/weights"
)

// torchvisionVGG reads testdata/vgg_keys.json: for each VGG, the keys of
// torchvision.models.<name>().state_dict() with shapes and dtypes, in order
// (written by scripts/make_weight_fixtures.py).
func torchvisionVGG(t *testing.T) map[string][]weights.KeyShape {
	t.Helper()
	b, err := os.ReadFile("testdata/vgg_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string][][3]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]weights.KeyShape{}
	for name, entries := range raw {
		for _, e := range entries {
			var ks weights.KeyShape
			if json.Unmarshal(e[0], &ks.Name) != nil || json.Unmarshal(e[1], &ks.Shape) != nil || json.Unmarshal(e[2], &ks.DType) != nil {
				t.Fatalf("bad entry %s", e)
			}
			out[name] = append(out[name], ks)
		}
	}
	return out
}

// wantOneLine wants err to be one line that starts with prefix and holds
// every fragment.
func wantOneLine(t *testing.T, err error, prefix string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one starting %q", prefix)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, prefix) {
		t.Errorf("error %q: want one line starting %q", msg, prefix)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q lacks %q", msg, f)
		}
	}
}

// The VGG key lists are torchvision's features.* entries, names, shapes and
// dtypes, for every torchvision VGG (racnn builds four; the others are
// named in import errors).
func TestVGGKeysMatchTorchvision(t *testing.T) {
	tv := torchvisionVGG(t)
	if len(tv) != len(vggTorchvision) {
		t.Errorf("fixture has %d VGGs, vggTorchvision %d", len(tv), len(vggTorchvision))
	}
	for _, name := range vggTorchvision {
		want := slices.DeleteFunc(slices.Clone(tv[name]), func(k weights.KeyShape) bool { return !strings.HasPrefix(k.Name, "features.") })
		if got := vggKeys(name); len(want) == 0 || !slices.EqualFunc(got, want, func(a, b weights.KeyShape) bool {
			return a.Name == b.Name && slices.Equal(a.Shape, b.Shape) && a.DType == b.DType
		}) {
			t.Errorf("%s: vggKeys\n got %v\nwant %v", name, got, want)
		}
	}
	if n := vggKeys("vgg19"); len(n) != 32 || n[len(n)-1].Name != "features.34.bias" {
		t.Errorf("vgg19: %d keys, last %v", len(n), n[len(n)-1])
	}
}

func TestVGGDetect(t *testing.T) {
	tv := torchvisionVGG(t)
	for _, name := range vggTorchvision {
		want := name
		if !slices.Contains(vggArch{}.Names(), name) {
			want += " (racnn builds vgg16, vgg19, vgg16_bn, vgg19_bn)"
		}
		if got := (vggArch{}).Detect(shapeOnly(tv[name])); got != want {
			t.Errorf("Detect(%s) = %q, want %q", name, got, want)
		}
	}
	if got := (vggArch{}).Detect(shapeOnly([]weights.KeyShape{{Name: "conv1.weight", Shape: []int64{64, 3, 7, 7}}})); got != "" {
		t.Errorf("Detect(resnet-like) = %q", got)
	}
}

// A torchvision VGG state dict imports into the backbone of its name with
// its features.* entries, classifier.* skipped; a mismatch is one line
// that names the keys and, where it can, the model.backbone to set.
func TestVGGPretrained(t *testing.T) {
	tv := torchvisionVGG(t)
	pretrained := func(file, backbone string, sd *weights.StateDict) (*weights.StateDict, error) {
		return vggArch{}.Pretrained(file, sd, Config{Backbone: backbone})
	}
	for _, name := range (vggArch{}).Names() {
		out, err := pretrained(name+".pth", name, shapeOnly(tv[name]))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := out.Keys(); len(got) != len(vggKeys(name)) || got[0] != "features.0.weight" || slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "classifier.") }) {
			t.Errorf("%s: keys %v", name, got)
		}
	}

	// Half-precision weights pass (the caller converts); a float where an
	// integer is expected does not.
	half := shapeOnly(tv["vgg16_bn"])
	for _, tn := range half.All() {
		if tn.DType == weights.F32 {
			tn.DType = weights.F16
		}
	}
	if _, err := pretrained("half.pth", "vgg16_bn", half); err != nil {
		t.Errorf("float16 weights: %v", err)
	}
	nbt, _ := half.Get("features.1.num_batches_tracked")
	nbt.DType = weights.F32
	_, err := pretrained("half.pth", "vgg16_bn", half)
	wantOneLine(t, err, "half.pth: ", "features.1.num_batches_tracked is F32 in the file, the model expects I64")

	prefixed := func(p string, sd *weights.StateDict) *weights.StateDict {
		out := weights.NewStateDict()
		for k, t := range sd.All() {
			out.Set(p+k, t)
		}
		return out
	}
	odd := shapeOnly(tv["vgg16"])
	if w, _ := odd.Get("features.0.weight"); w != nil {
		w.Shape = []int64{64, 1, 3, 3}
	}
	for _, c := range []struct {
		file, backbone string
		sd             *weights.StateDict
		wants          []string
	}{
		{"vgg19.pth", "vgg19", shapeOnly(tv["vgg16"]), []string{
			"missing keys features.16.weight, features.16.bias, features.23.weight, features.23.bias and 8 more",
			"unexpected keys features.17.weight, features.17.bias, features.24.weight, features.24.bias and 2 more",
			"this looks like a vgg16 state dict — set model.backbone to vgg16",
		}},
		{"bn.pth", "vgg16", shapeOnly(tv["vgg16_bn"]), []string{"unexpected keys", "set model.backbone to vgg16_bn"}},
		{"plain.pth", "vgg19_bn", shapeOnly(tv["vgg19"]), []string{"missing keys", "set model.backbone to vgg19"}},
		{"vgg11.pth", "vgg16", shapeOnly(tv["vgg11"]), []string{"missing keys", "this looks like a vgg11 (racnn builds vgg16, vgg19, vgg16_bn, vgg19_bn) state dict"}},
		{"dp.pth", "vgg16", prefixed("module.", shapeOnly(tv["vgg16"])), []string{`the keys start with "module."`, "model.module.state_dict()"}},
		{"resnet.pth", "vgg19", shapeOnly([]weights.KeyShape{{Name: "conv1.weight", Shape: []int64{64, 3, 7, 7}, DType: weights.F32}, {Name: "bn1.weight", Shape: []int64{64}, DType: weights.F32}}), []string{
			"unexpected keys conv1.weight, bn1.weight", "not a torchvision vgg19 state dict (its keys start conv1.weight, bn1.weight)"}},
		{"odd.pth", "vgg16", odd, []string{"features.0.weight has shape [64,1,3,3] in the file, the model expects [64,3,3,3]"}},
	} {
		_, err := pretrained(c.file, c.backbone, c.sd)
		wantOneLine(t, err, c.file+": ", c.wants...)
	}
}

// TestImportVGG16FileAsVGG19 writes a file with the real vgg16 feature
// shapes (about 59 MB), reads it back and imports it as vgg19 and as vgg16.
func TestImportVGG16FileAsVGG19(t *testing.T) {
	sd := weights.NewStateDict()
	for _, k := range vggKeys("vgg16") {
		n := weights.NumElements(k.Shape) * int64(k.DType.Size())
		sd.Set(k.Name, &weights.Tensor{DType: k.DType, Shape: k.Shape, Data: make([]byte, n)})
	}
	// A small stand-in classifier: the import skips classifier.* whatever
	// its shapes.
	fc, _ := weights.FromFloat32([]int64{10, 5}, make([]float32, 50))
	sd.Set("classifier.6.weight", fc)
	path := filepath.Join(t.TempDir(), "vgg16-features.safetensors")
	if err := weights.WriteFileAtomic(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := weights.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = vggArch{}.Pretrained(path, got, Config{Backbone: "vgg19"})
	wantOneLine(t, err, path+": ", "missing keys features.16.weight", "this looks like a vgg16 state dict — set model.backbone to vgg16")
	out, err := vggArch{}.Pretrained(path, got, Config{Backbone: "vgg16"})
	if err != nil || out.Len() != 26 {
		t.Errorf("as vgg16: %v", err)
	}
}

// config.Validate refuses a model.backbone that no Arch builds and accepts
// every one that does: internal/model registers its names there.
func TestConfigKnowsEveryBackbone(t *testing.T) {
	for _, name := range Backbones() {
		c := config.Default()
		c.Model.Backbone = name
		if strings.HasPrefix(name, "small") {
			c.Model.SmallChannels = []int{8, -1, 16}
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := config.Default()
	c.Model.Backbone = "resnet18"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `model.backbone: "resnet18" is not one of `+strings.Join(Backbones(), ", ")) {
		t.Errorf("resnet18: %v", err)
	}
}
