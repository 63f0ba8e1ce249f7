package model

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/weights"
)

// A torchvision-style file with the wrong keys gives an error naming them
// and the file; a small backbone has no torchvision weights.
func TestImportTorchvisionErrors(t *testing.T) {
	cfg := Default()
	cfg.Backbone = "vgg16"
	cfg.Scales = 1
	cfg.InputSize = [3]int64{32, 32, 32}
	m := newModel(t, cfg)
	dir := t.TempDir()
	sd := weights.NewStateDict()
	add := func(name string, shape ...int64) {
		n := weights.NumElements(shape)
		w, _ := weights.FromFloat32(shape, make([]float32, n))
		sd.Set(name, w)
	}
	add("features.0.weight", 64, 3, 5, 5)
	add("features.99.weight", 1)
	add("classifier.6.weight", 1000, 4096) // skipped
	path := filepath.Join(dir, "bad.safetensors")
	if err := weights.WriteFileAtomic(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	err := m.ImportTorchvision(path)
	for _, want := range []string{path + ": missing keys features.0.bias, features.2.weight",
		"unexpected key features.99.weight", "features.0.weight has shape [64,3,5,5] in the file, the model expects [64,3,3,3]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "classifier") {
		t.Errorf("classifier keys are not skipped: %v", err)
	}
	small := newModel(t, tiny())
	if err := small.ImportTorchvision(path); err == nil || !strings.Contains(err.Error(), "no torchvision counterpart") {
		t.Errorf("err %v", err)
	}
	if err := m.ImportTorchvision(filepath.Join(dir, "nope.pth")); err == nil || !strings.Contains(err.Error(), "nope.pth") {
		t.Errorf("err %v", err)
	}
}
