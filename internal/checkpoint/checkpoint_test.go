package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// tinyConfig is a run config of a small 3-scale model.
func tinyConfig() config.Config {
	c := config.Default()
	c.Model.Backbone, c.Model.SmallChannels = "small_bn", []int{4, -1, 8}
	c.Model.InputSizes, c.Model.APN.Hidden = []int{32, 24, 24}, 8
	c.Data.SourceSize = 32
	return c
}

// save writes m's tensors as a checkpoint at step with optimiser state.
func save(t *testing.T, path string, m *model.RACNN, c config.Config, step int64) {
	t.Helper()
	tensors := map[string]*torch.Tensor{}
	for _, e := range m.Store.Entries() {
		tensors[e.Name] = e.T
	}
	torch.WithScope(func() {
		optim := map[string]*torch.Tensor{"0.momentum_buffer": torch.Rand([]int64{3})}
		st, _ := json.Marshal(map[string]int64{"step": step})
		gate := Section{Doc: json.RawMessage(`{"n":1}`), Tensors: map[string]*torch.Tensor{"scale1.apn.fc2.bias": torch.Ones([]int64{3})}}
		if err := Save(path, &Checkpoint{State: st, Config: c, Classes: []string{"a", "b", "c"}, Model: tensors, Optim: optim,
			Sections: map[string]Section{"rank_gate": gate}}); err != nil {
			t.Fatal(err)
		}
	})
}

// A checkpoint round-trips the model's parameters and buffers, its state
// document, config and classes; LoadModel builds the model it was written
// for. Files that are not racnn checkpoints, or are cut short, are errors
// naming the file.
func TestSaveLoad(t *testing.T) {
	torch.ManualSeed(7)
	c := tinyConfig()
	m, err := model.NewFromConfig(c, 3, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	torch.WithScope(func() {
		m.Forward(torch.Rand([]int64{2, 3, 32, 32}), nil, true) // moves the BN running stats
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	save(t, path, m, c, 42)

	ck, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(ck.State) != `{"step":42}` || !slices.Equal(ck.Classes, []string{"a", "b", "c"}) || ck.Config.Model.Backbone != "small_bn" || len(ck.Optim) != 1 {
		t.Fatalf("loaded state %s, classes %v, backbone %s, %d optimiser tensors", ck.State, ck.Classes, ck.Config.Model.Backbone, len(ck.Optim))
	}
	gate := ck.Sections["rank_gate"]
	if len(ck.Sections) != 1 || string(gate.Doc) != `{"n":1}` || len(gate.Tensors) != 1 || gate.Tensors["scale1.apn.fc2.bias"].Float64s()[0] != 1 {
		t.Fatalf("sections %+v", ck.Sections)
	}
	if len(ck.Model) != len(m.Store.Entries()) {
		t.Fatalf("%d model tensors, want %d", len(ck.Model), len(m.Store.Entries()))
	}
	ck.Free()
	if err := Save(filepath.Join(dir, "x.safetensors"), &Checkpoint{State: json.RawMessage(`{}`), Config: c, Sections: map[string]Section{"model": {Doc: json.RawMessage(`{}`)}}}); err == nil {
		t.Error("a section named model was saved")
	}
	in, err := ReadInfo(path)
	if err != nil || !in.HasOptim || string(in.State) != `{"step":42}` {
		t.Fatalf("info %+v, %v", in, err)
	}

	l, _, err := LoadModel(path, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free()
	if !slices.Equal(l.Store.Names(), m.Store.Names()) {
		t.Fatalf("loaded %v", l.Store.Names())
	}
	torch.WithScope(func() {
		for _, e := range m.Store.Entries() {
			if d := l.Store.Get(e.Name).ToDType(torch.Float64).Sub(e.T.ToDType(torch.Float64)).Abs().AmaxDims(nil, false).Item(); d != 0 {
				t.Errorf("%s differs by %g", e.Name, d)
			}
		}
		if n := l.Store.Get("scale1.features.1.num_batches_tracked").Item(); n != 1 {
			t.Fatalf("num_batches_tracked %v", n)
		}
	})

	// A file that is not a racnn checkpoint.
	plain := filepath.Join(dir, "plain.safetensors")
	if err := weights.WriteFileAtomic(plain, weights.NewStateDict(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadModel(plain, torch.CPU); err == nil || !strings.Contains(err.Error(), "checkpoint "+plain+": not a racnn checkpoint") {
		t.Fatalf("err %v", err)
	}
	// A truncated checkpoint: Load and ReadInfo both refuse it.
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, raw[:len(raw)-100], 0o644)
	if _, err := Load(cut); err == nil || !strings.Contains(err.Error(), cut) {
		t.Fatalf("err %v", err)
	}
	if _, err := ReadInfo(cut); err == nil || !strings.Contains(err.Error(), cut) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.safetensors")); err == nil || !strings.Contains(err.Error(), "nope.safetensors: no such file") {
		t.Fatalf("err %v", err)
	}
}

// The newest step checkpoint that verifies is the one to resume from: a
// truncated newest one is passed over, and named.
func TestFindNewestFallsBack(t *testing.T) {
	c := tinyConfig()
	m, err := model.NewFromConfig(c, 3, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	run := t.TempDir()
	if _, err := FindNewest(run); err == nil || !strings.Contains(err.Error(), "no checkpoint in") {
		t.Fatalf("empty run: %v", err)
	}
	os.MkdirAll(Dir(run), 0o755)
	for _, step := range []int64{5, 10, 15, 20} {
		save(t, filepath.Join(Dir(run), StepName(step)), m, c, step)
	}
	if err := Prune(Dir(run), 3); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(Dir(run), StepName(5))); !os.IsNotExist(err) {
		t.Fatalf("pruning kept the oldest: %v", err)
	}
	n, err := FindNewest(run)
	if err != nil || n.Path != filepath.Join(Dir(run), StepName(20)) || len(n.Skipped) != 0 {
		t.Fatalf("newest %+v, %v", n, err)
	}
	newest := filepath.Join(Dir(run), StepName(20))
	raw, _ := os.ReadFile(newest)
	os.WriteFile(newest, raw[:len(raw)/2], 0o644)
	n, err = FindNewest(run)
	if err != nil || n.Path != filepath.Join(Dir(run), StepName(15)) || string(n.State) != `{"step":15}` {
		t.Fatalf("after truncating the newest: %+v, %v", n, err)
	}
	if len(n.Skipped) != 1 || n.Skipped[0].Path != newest || !strings.Contains(n.Skipped[0].Err.Error(), "truncated") {
		t.Fatalf("skipped %+v", n.Skipped)
	}
	for _, step := range []int64{10, 15} {
		os.WriteFile(filepath.Join(Dir(run), StepName(step)), []byte("junk"), 0o644)
	}
	if _, err := FindNewest(run); err == nil || !strings.Contains(err.Error(), "none of its 3 checkpoint(s) can be read") {
		t.Fatalf("all unreadable: %v", err)
	}
}
