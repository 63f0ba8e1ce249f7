package model

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

func TestSaveLoad(t *testing.T) {
	torch.ManualSeed(7)
	cfg := tiny()
	cfg.Backbone = "small_bn"
	m := newModel(t, cfg)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	torch.WithScope(func() {
		m.Forward(torch.Rand([]int64{2, 3, 32, 32}), nil, true) // moves the BN running stats
	})
	if err := m.SaveWithMeta(path, map[string]string{"racnn.train": "{}"}); err != nil {
		t.Fatal(err)
	}
	l, err := LoadFile(path, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free()
	if !slices.Equal(l.Store.Names(), m.Store.Names()) || l.Cfg.arch() != m.Cfg.arch() {
		t.Fatalf("loaded %v", l.Cfg)
	}
	torch.WithScope(func() {
		for _, e := range m.Store.Entries() {
			assertClose(t, e.Name, l.Store.Get(e.Name), e.T, 0)
		}
		if n := l.Store.Get("scale1.features.1.num_batches_tracked").Item(); n != 1 {
			t.Fatalf("num_batches_tracked %v", n)
		}
	})

	// Into a model of the same architecture.
	m2 := newModel(t, cfg)
	if err := m2.Load(path); err != nil {
		t.Fatal(err)
	}
	// Another architecture: a clear error naming what differs.
	other := cfg
	other.NumClasses = 7
	m3 := newModel(t, other)
	err = m3.Load(path)
	if err == nil || !strings.Contains(err.Error(), "checkpoint "+path+" was written for 5 classes; this config has 7 classes") {
		t.Fatalf("err %v", err)
	}
	// A file that is not a racnn checkpoint.
	plain := filepath.Join(dir, "plain.safetensors")
	if err := weights.WriteFileAtomic(plain, weights.NewStateDict(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(plain, torch.CPU); err == nil || !strings.Contains(err.Error(), "not a checkpoint written by racnn") {
		t.Fatalf("err %v", err)
	}
	// A truncated checkpoint.
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, raw[:len(raw)/2], 0o644)
	if err := m2.Load(cut); err == nil || !strings.Contains(err.Error(), cut) {
		t.Fatalf("err %v", err)
	}
}

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
