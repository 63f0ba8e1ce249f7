package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// Each failure prints one line with one "racnn:" and the origin's own
// words, whether the message comes from a config check, libtorch, or
// racnn's own checks inside model code.
func TestErrorLinesExact(t *testing.T) {
	cfg, _ := tinyRun(t)
	body, _ := os.ReadFile(cfg)
	unknown := filepath.Join(t.TempDir(), "unknown.yaml")
	os.WriteFile(unknown, []byte(strings.Replace(string(body), "  backbone: small\n", "  bakbone: small\n", 1)), 0o644)
	cmdLine := func(args ...string) string {
		t.Helper()
		out, err := execute(append(args, "--out", filepath.Join(t.TempDir(), "run"))...)
		if err == nil {
			t.Fatalf("%v: no error; output:\n%s", args, out)
		}
		return errorLine(err)
	}
	lines := []struct{ name, got, want string }{
		{"bad model key", cmdLine("train", "--config", unknown),
			fmt.Sprintf("racnn: config %s: unknown key model.bakbone (did you mean model.backbone?)", unknown)},
	}
	if !torch.CUDAAvailable() {
		lines = append(lines, struct{ name, got, want string }{"bad device", cmdLine("train", "--config", cfg, "--device", "cuda"),
			`racnn: runtime.device: device "cuda": this libtorch has no CUDA or no GPU is visible (rebuild the shim against a CUDA libtorch: make shim LIBTORCH=/path/to/libtorch)`})
	}
	// What an entry point's torch.Try returns for a libtorch shape mismatch,
	// and for one of racnn's own shape checks inside model code.
	var libtorch, own error
	torch.OnThread(1, func() error {
		torch.WithScope(func() {
			libtorch = torch.Try(func() { torch.Linear(torch.Ones([]int64{2, 3}), torch.Ones([]int64{5, 4}), nil) })
			own = torch.Try(func() {
				apn.Crop(torch.Ones([]int64{2, 3}), torch.Ones([]int64{2, 3}), 4, 4, apn.Config{Mode: apn.ModeBoxcar})
			})
		})
		return nil
	})
	pretrained, imported := badPretrained(t)
	lines = append(lines,
		struct{ name, got, want string }{"libtorch shape mismatch", errorLine(libtorch), "racnn: torch: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"},
		struct{ name, got, want string }{"model shape check", errorLine(own), "racnn: apn.Crop: src shape [2 3]: want [N, C, H, W]"},
		struct{ name, got, want string }{"ImageNet weights of a dtype racnn does not load", errorLine(imported),
			"racnn: " + pretrained + ": features.1.num_batches_tracked: dtype I32 is not a float or int64 tensor"})
	for _, l := range lines {
		if l.got != l.want {
			t.Errorf("%s:\n got %s\nwant %s", l.name, l.got, l.want)
		}
	}
	if !torch.IsError(libtorch) || torch.IsError(own) || torch.IsError(imported) {
		t.Errorf("origins: libtorch's is *torch.Error: %v; racnn's own are not: %v, %v", torch.IsError(libtorch), !torch.IsError(own), !torch.IsError(imported))
	}
}

// badPretrained writes a torchvision VGG-16-BN state dict whose keys and
// shapes are right (the backbone's own, without "scale1."), its weights
// bfloat16 and its batch-norm counters int32 (int64 in PyTorch), and
// returns its path and what importing it into a one-scale VGG-16-BN returns.
func badPretrained(t *testing.T) (string, error) {
	t.Helper()
	cfg := model.Default()
	cfg.Backbone, cfg.Scales, cfg.InputSize = "vgg16_bn", 1, [3]int64{32, 32, 32}
	m, err := model.New(cfg, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	sd := weights.NewStateDict()
	for _, e := range m.Groups.Scales[0].Backbone.Entries() {
		dt := weights.BF16
		if e.T.DType() == torch.Int64 {
			dt = weights.I32
		}
		shape := e.T.Shape()
		sd.Set(strings.TrimPrefix(e.Name, "scale1."), &weights.Tensor{DType: dt, Shape: shape, Data: make([]byte, weights.NumElements(shape)*int64(dt.Size()))})
	}
	path := filepath.Join(t.TempDir(), "vgg16_bn-int32.safetensors")
	if err := weights.WriteFileAtomic(path, sd, nil); err != nil {
		t.Fatal(err)
	}
	return path, m.ImportTorchvision(path)
}
