package model

import (
	"os"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// envDevice is the device the environment variable key names (cpu when
// unset), failing tb when it is not one this libtorch can use.
func envDevice(tb testing.TB, key string) torch.Device {
	tb.Helper()
	d, err := torch.ParseDevice(os.Getenv(key)) // "" is cpu; refuses what this libtorch cannot use
	if err != nil {
		tb.Fatalf("%s: %v", key, err)
	}
	return d
}

// testDevice is where the golden tests run the model: cpu, or the device
// RACNN_TEST_DEVICE names (scripts/gpu-check.sh sets cuda). On a GPU, TF32
// is switched off: the goldens are float64 and compare to 1e-4.
func testDevice(t testing.TB) torch.Device {
	t.Helper()
	d := envDevice(t, "RACNN_TEST_DEVICE")
	if d.IsCUDA() {
		torch.SetAllowTF32(false, false)
	}
	return d
}
