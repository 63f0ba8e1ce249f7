package model

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

const python = "/usr/bin/python3"

// TestImportRealTorchvisionVGG19 imports a real torchvision vgg19 state
// dict (random weights, ~550 MB, written to a temporary directory by
// scripts/vgg_state_dicts.py) into all three backbones and compares the
// parameters and conv5_4's output with PyTorch's; a truncated file and a
// vgg16 file must fail with a clear error. Skipped with -short and where
// /usr/bin/python3 has no torchvision.
func TestImportRealTorchvisionVGG19(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ~1.1 GB of torchvision state dicts; runs without -short")
	}
	if err := exec.Command(python, "-c", "import torchvision").Run(); err != nil {
		t.Skipf("%s with torchvision is needed: %v", python, err)
	}
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command(python, "../../scripts/vgg_state_dicts.py", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("PyTorch wrote the state dicts in %v", time.Since(start).Round(time.Millisecond))

	cfg := Default()
	cfg.InputSize = [3]int64{64, 32, 32} // small APNs: only the backbones matter here
	m := newModel(t, cfg)
	vgg19 := filepath.Join(dir, "vgg19.pth")
	start = time.Now()
	if err := m.ImportTorchvision(vgg19); err != nil {
		t.Fatal(err)
	}
	t.Logf("imported into 3 backbones in %v", time.Since(start).Round(time.Millisecond))

	check, _, err := weights.ReadSafetensorsFile(filepath.Join(dir, "vgg19_check.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *torch.Tensor {
		w, ok := check.Get(name)
		if !ok {
			t.Fatalf("no %s in the check file", name)
		}
		v, err := nn.FromWeights(w)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	torch.WithScope(func() {
		keys := vggKeys("vgg19")
		if n := len(keys); n != 32 {
			t.Fatalf("vgg19 has %d feature tensors, want 32 (16 convs)", n)
		}
		for s := 1; s <= 3; s++ {
			for _, ks := range keys {
				k := ks.Name
				want := get("sum." + k).Item()
				got := m.Store.Get(fmt.Sprintf("scale%d.", s) + k).ToDType(torch.Float64).Sum().Item()
				if d := got - want; d > 1e-3 || d < -1e-3 {
					t.Errorf("scale %d %s: sum %v, PyTorch %v", s, k, got, want)
				}
			}
			x := get("x")
			want := get("features")
			torch.NoGrad(func() {
				got := m.Scales[s-1].Backbone.Forward(x, false)
				scale := want.Abs().AmaxDims(nil, false).Item()
				assertClose(t, "conv5_4 features", got.DivScalar(scale), want.DivScalar(scale), 1e-5)
			})
		}
		if cls := m.Store.Get("scale1.classifier.weight").Shape(); cls[0] != 200 || cls[1] != 512 {
			t.Errorf("scale1.classifier %v", cls)
		}
	})

	// A truncated file.
	cut := filepath.Join(dir, "vgg19_cut.pth")
	copyPrefix(t, vgg19, cut, 50<<20)
	err = m.ImportTorchvision(cut)
	if err == nil || !strings.Contains(err.Error(), cut) {
		t.Fatalf("truncated file: %v", err)
	}
	t.Logf("truncated file: %v", err)

	// vgg16 weights into a vgg19 model.
	vgg16 := filepath.Join(dir, "vgg16.pth")
	err = m.ImportTorchvision(vgg16)
	if err == nil || !strings.HasPrefix(err.Error(), vgg16+": ") || !strings.Contains(err.Error(), "this looks like a vgg16 state dict — set model.backbone to vgg16") {
		t.Fatalf("vgg16 file: %v", err)
	}
	t.Logf("vgg16 file: %v", err)
}

func copyPrefix(t *testing.T, src, dst string, n int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
