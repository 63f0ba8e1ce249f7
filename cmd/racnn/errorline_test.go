package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/torch"
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
	lines = append(lines,
		struct{ name, got, want string }{"libtorch shape mismatch", errorLine(libtorch), "racnn: torch: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"},
		struct{ name, got, want string }{"model shape check", errorLine(own), "racnn: apn.Crop: src shape [2 3]: want [N, C, H, W]"})
	for _, l := range lines {
		if l.got != l.want {
			t.Errorf("%s:\n got %s\nwant %s", l.name, l.got, l.want)
		}
	}
	if !torch.IsError(libtorch) || torch.IsError(own) {
		t.Errorf("origins: libtorch's is *torch.Error: %v; racnn's own is not: %v", torch.IsError(libtorch), !torch.IsError(own))
	}
}

// A skipped bad image is one warning line with one "warning:" label.
func TestBadImageWarningOnce(t *testing.T) {
	cfg, dataRoot := tinyRun(t)
	bad := filepath.Join(dataRoot, "train", "class0", "001.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	out, err := execute("train", "--config", cfg, "--data.on_bad_image", "skip", "--train.max_steps_per_epoch", "1",
		"--train.scale_epochs", "1", "--train.cls_epochs", "1", "--train.fusion_epochs", "0", "--out", filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(errorLine(err))
	}
	var warned []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "warning:") {
			warned = append(warned, l)
		}
	}
	want := "warning: skipping bad image (on_bad_image: skip): " + bad + ": "
	if len(warned) != 1 || !strings.HasPrefix(warned[0], want) || strings.Count(warned[0], "warning:") != 1 {
		t.Fatalf("warning lines %q; want one starting %q", warned, want)
	}
}
