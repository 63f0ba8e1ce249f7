package model

import (
	"os"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// testDevice is where the golden tests run the model: cpu, or the device
// RACNN_TEST_DEVICE names (scripts/gpu-check.sh sets cuda). On a GPU, TF32
// is switched off: the goldens are float64 and compare to 1e-4.
func testDevice(t testing.TB) torch.Device {
	t.Helper()
	name := os.Getenv("RACNN_TEST_DEVICE")
	if name == "" {
		return torch.CPU
	}
	d, err := torch.ParseDevice(name)
	if err != nil {
		t.Fatalf("RACNN_TEST_DEVICE=%s: %v", name, err)
	}
	if d.IsCUDA() {
		if !torch.CUDAAvailable() {
			t.Fatalf("RACNN_TEST_DEVICE=%s: libtorch %s sees no CUDA device", name, torch.Version())
		}
		torch.SetAllowTF32(false, false)
	}
	return d
}
