package weights

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// torchvisionVGG reads testdata/vgg_keys.json: for each VGG, the keys of
// torchvision.models.<name>().state_dict() with shapes and dtypes, in order
// (written by scripts/make_weight_fixtures.py).
func torchvisionVGG(t *testing.T) map[string][]KeyShape {
	t.Helper()
	b, err := os.ReadFile("testdata/vgg_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string][][3]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]KeyShape{}
	for name, entries := range raw {
		for _, e := range entries {
			var ks KeyShape
			if json.Unmarshal(e[0], &ks.Name) != nil || json.Unmarshal(e[1], &ks.Shape) != nil || json.Unmarshal(e[2], &ks.DType) != nil {
				t.Fatalf("bad entry %s", e)
			}
			out[name] = append(out[name], ks)
		}
	}
	return out
}

// shapeOnly builds a StateDict of tensors that have shapes but no data,
// which is all the key checks look at.
func shapeOnly(keys []KeyShape) *StateDict {
	sd := NewStateDict()
	for _, k := range keys {
		sd.Set(k.Name, &Tensor{DType: k.DType, Shape: k.Shape})
	}
	return sd
}

func TestVGGFeatureKeysMatchTorchvision(t *testing.T) {
	tv := torchvisionVGG(t)
	if len(tv) != len(VGGNames()) {
		t.Errorf("fixture has %d VGGs, VGGNames %d", len(tv), len(VGGNames()))
	}
	for _, name := range VGGNames() {
		got, err := VGGFeatureKeys(name)
		if err != nil {
			t.Fatal(err)
		}
		var want []KeyShape
		for _, k := range tv[name] {
			if strings.HasPrefix(k.Name, "features.") {
				want = append(want, k)
			}
		}
		if !slices.EqualFunc(got, want, func(a, b KeyShape) bool {
			return a.Name == b.Name && a.DType == b.DType && slices.Equal(a.Shape, b.Shape)
		}) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
	if n, _ := VGGFeatureKeys("vgg19"); len(n) != 32 || n[len(n)-1].Name != "features.34.bias" {
		t.Errorf("vgg19 features: %d keys, last %v", len(n), n[len(n)-1])
	}
	if _, err := VGGFeatureKeys("vgg18"); err == nil || !strings.Contains(err.Error(), "vgg19_bn") {
		t.Errorf("unknown VGG: %v", err)
	}
	cfg, bn, _ := VGGConfig("vgg16_bn")
	if !bn || len(cfg) != 18 || cfg[2] != VGGPool {
		t.Errorf("VGGConfig(vgg16_bn) = %v, %v", cfg, bn)
	}
}

func TestDetectVGG(t *testing.T) {
	tv := torchvisionVGG(t)
	for _, name := range VGGNames() {
		if got := DetectVGG(shapeOnly(tv[name])); got != name {
			t.Errorf("DetectVGG(%s) = %q", name, got)
		}
	}
	if got := DetectVGG(shapeOnly([]KeyShape{{Name: "conv1.weight", Shape: []int64{64, 3, 7, 7}}})); got != "" {
		t.Errorf("DetectVGG(resnet-like) = %q", got)
	}
}

func TestImportVGG(t *testing.T) {
	tv := torchvisionVGG(t)
	for _, name := range VGGNames() {
		out, err := ImportVGG(name+".pth", shapeOnly(tv[name]), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, _ := VGGFeatureKeys(name)
		if got := out.Keys(); len(got) != len(want) || got[0] != "features.0.weight" || slices.ContainsFunc(got, func(k string) bool { return strings.HasPrefix(k, "classifier.") }) {
			t.Errorf("%s: keys %v", name, got)
		}
	}

	// Half-precision weights pass (the caller converts); a float where an
	// integer is expected does not.
	half := shapeOnly(tv["vgg11_bn"])
	for _, tn := range half.All() {
		if tn.DType == F32 {
			tn.DType = F16
		}
	}
	if _, err := ImportVGG("half.pth", half, "vgg11_bn"); err != nil {
		t.Errorf("float16 weights: %v", err)
	}
	nbt, _ := half.Get("features.1.num_batches_tracked")
	nbt.DType = F32
	_, err := ImportVGG("half.pth", half, "vgg11_bn")
	checkOneLine(t, err, "half.pth: ", "features.1.num_batches_tracked is F32 in the file, the model expects I64")

	for _, c := range []struct {
		file, backbone string
		sd             *StateDict
		wants          []string
	}{
		{"vgg19.pth", "vgg19", shapeOnly(tv["vgg16"]), []string{
			"missing keys features.16.weight, features.16.bias, features.23.weight, features.23.bias and 8 more",
			"unexpected keys features.17.weight, features.17.bias, features.24.weight, features.24.bias and 2 more",
			"this looks like a vgg16 state dict — set model.backbone to vgg16",
		}},
		{"bn.pth", "vgg16", shapeOnly(tv["vgg16_bn"]), []string{"unexpected keys", "set model.backbone to vgg16_bn"}},
		{"plain.pth", "vgg19_bn", shapeOnly(tv["vgg19"]), []string{"missing keys", "set model.backbone to vgg19"}},
		{"dp.pth", "vgg16", prefixed("module.", shapeOnly(tv["vgg16"])), []string{`the keys start with "module."`, "model.module.state_dict()"}},
		{"resnet.pth", "vgg19", shapeOnly([]KeyShape{{"conv1.weight", []int64{64, 3, 7, 7}, F32}, {"bn1.weight", []int64{64}, F32}}), []string{
			"unexpected keys conv1.weight, bn1.weight", "not a torchvision VGG state dict (its keys start conv1.weight, bn1.weight)"}},
		{"odd.pth", "vgg11", reshaped(shapeOnly(tv["vgg11"]), "features.0.weight", 64, 1, 3, 3), []string{
			"features.0.weight has shape [64,1,3,3] in the file, the model expects [64,3,3,3]"}},
		{"x.pth", "vgg20", shapeOnly(tv["vgg16"]), []string{`unknown VGG "vgg20"`}},
	} {
		_, err := ImportVGG(c.file, c.sd, c.backbone)
		checkOneLine(t, err, c.file+": ", c.wants...)
	}
}

func prefixed(p string, sd *StateDict) *StateDict {
	out := NewStateDict()
	for k, t := range sd.All() {
		out.Set(p+k, t)
	}
	return out
}

func reshaped(sd *StateDict, key string, shape ...int64) *StateDict {
	t, _ := sd.Get(key)
	t.Shape = shape
	return sd
}

func TestMatchKeysOrderAndSharing(t *testing.T) {
	a, _ := FromFloat32([]int64{2}, []float32{1, 2})
	b, _ := FromFloat32([]int64{1}, []float32{3})
	sd := NewStateDict()
	sd.Set("head.fc", b) // skipped
	sd.Set("b", b)
	sd.Set("a", a)
	out, err := MatchKeys("m.safetensors", sd, []KeyShape{{"a", []int64{2}, F32}, {"b", []int64{1}, F32}}, "head.")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Keys(), []string{"a", "b"}) {
		t.Errorf("order %v", out.Keys())
	}
	if got, _ := out.Get("a"); got != a {
		t.Error("MatchKeys copied a tensor")
	}
	_, err = MatchKeys("m.safetensors", sd, []KeyShape{{"a", []int64{2}, F32}, {"c", []int64{1}, F32}})
	checkOneLine(t, err, "m.safetensors: ", "missing key c;", "unexpected keys head.fc, b")
}

// TestImportVGG16FileAsVGG19 writes a file with the real vgg16 feature
// shapes (about 59 MB), reads it back and imports it as vgg19 and as vgg16.
func TestImportVGG16FileAsVGG19(t *testing.T) {
	keys, _ := VGGFeatureKeys("vgg16")
	sd := NewStateDict()
	for _, k := range keys {
		n := NumElements(k.Shape) * int64(k.DType.Size())
		sd.Set(k.Name, &Tensor{DType: k.DType, Shape: k.Shape, Data: make([]byte, n)})
	}
	// A small stand-in classifier: ImportVGG ignores classifier.* whatever
	// its shapes.
	fc, _ := FromFloat32([]int64{10, 5}, make([]float32, 50))
	sd.Set("classifier.6.weight", fc)
	path := filepath.Join(t.TempDir(), "vgg16-features.safetensors")
	if err := WriteFileAtomic(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ImportVGG(path, got, "vgg19")
	checkOneLine(t, err, path+": ", "missing keys features.16.weight", "this looks like a vgg16 state dict — set model.backbone to vgg16")
	out, err := ImportVGG(path, got, "vgg16")
	if err != nil || out.Len() != 26 {
		t.Errorf("as vgg16: %v", err)
	}
}
