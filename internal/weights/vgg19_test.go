package weights

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestReadTorchvisionVGG19 loads a real torchvision vgg19 state dict
// (random weights, ~550 MB, written to a temp dir by
// testdata/vgg19_dump.py) and checks every key, shape and sampled value
// against what Python printed. It needs /usr/bin/python3 with torchvision
// and takes tens of seconds (mostly Python), so -short skips it.
func TestReadTorchvisionVGG19(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 550 MB torchvision vgg19 load")
	}
	needTorch(t)
	dir := t.TempDir()
	p19 := filepath.Join(dir, "vgg19.pth")
	p16 := filepath.Join(dir, "vgg16-features.pth")
	start := time.Now()
	out, err := exec.Command(debianPython, "testdata/vgg19_dump.py", p19, p16).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	t.Logf("python: create and save vgg19 + vgg16 features: %v", time.Since(start).Round(time.Millisecond))
	var py struct {
		Keys    [][2]json.RawMessage `json:"keys"`
		Samples [][3]json.RawMessage `json:"samples"`
	}
	if err := json.Unmarshal(out, &py); err != nil {
		t.Fatal(err)
	}

	st, _ := os.Stat(p19)
	start = time.Now()
	sd, err := ReadPyTorchFile(p19)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("ReadPyTorchFile(vgg19.pth, %.0f MB): %v (%.0f MB/s)", float64(st.Size())/1e6, el.Round(time.Millisecond), float64(st.Size())/1e6/el.Seconds())

	// All 38 entries (32 features.*, 6 classifier.*), in order, with shapes.
	if len(py.Keys) != 38 || sd.Len() != 38 {
		t.Errorf("python has %d keys, Go %d; want 38", len(py.Keys), sd.Len())
	}
	for i, kv := range py.Keys {
		var name string
		var shape []int64
		json.Unmarshal(kv[0], &name)
		json.Unmarshal(kv[1], &shape)
		if i >= sd.Len() || sd.Keys()[i] != name {
			t.Errorf("key %d: want %s", i, name)
			continue
		}
		tn, _ := sd.Get(name)
		if tn.DType != F32 || !slices.Equal(tn.Shape, shape) || tn.Validate() != nil {
			t.Errorf("%s: %s%v, want F32%v", name, tn.DType, tn.Shape, shape)
		}
	}
	for _, s := range py.Samples {
		var name string
		var idx int
		var val float64
		json.Unmarshal(s[0], &name)
		json.Unmarshal(s[1], &idx)
		json.Unmarshal(s[2], &val)
		tn, ok := sd.Get(name)
		if !ok {
			continue
		}
		v, err := tn.Float32View()
		if err != nil {
			t.Fatal(err)
		}
		if math.Float32bits(v[idx]) != math.Float32bits(float32(val)) {
			t.Errorf("%s[%d] = %v, want %v", name, idx, v[idx], float32(val))
		}
	}
	// torch.save of vgg16's features module, its keys prefixed "features."
	// (importing one into a vgg19 model is internal/model's TestImportRealTorchvisionVGG19).
	sd16, err := ReadPyTorchFile(p16)
	if err != nil {
		t.Fatal(err)
	}
	if k := sd16.Keys(); len(k) != 26 || k[0] != "features.0.weight" || k[25] != "features.28.bias" {
		t.Errorf("vgg16 features: %d keys %v, want the 26 of features.0.weight ... features.28.bias", len(k), k)
	}
}
