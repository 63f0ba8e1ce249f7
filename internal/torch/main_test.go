package torch

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
)

// testDev is where device-aware tests put their tensors: cpu unless
// RACNN_TEST_DEVICE names another device (scripts/gpu-check.sh sets cuda).
var testDev = CPU

func TestMain(m *testing.M) {
	if name := os.Getenv("RACNN_TEST_DEVICE"); name != "" {
		d, err := ParseDevice(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "RACNN_TEST_DEVICE=%s: %v\n", name, err)
			os.Exit(2)
		}
		if d.IsCUDA() && !CUDAAvailable() {
			fmt.Fprintf(os.Stderr, "RACNN_TEST_DEVICE=%s: libtorch %s sees no CUDA device\n", name, Version())
			os.Exit(2)
		}
		testDev = d
		// Golden and gradient checks compare to float32/float64 rounding: no TF32.
		SetAllowTF32(false, false)
		fmt.Fprintf(os.Stderr, "internal/torch tests on %s (libtorch %s)\n", d, Version())
	}
	code := m.Run()
	// Every test frees what it creates: handles left here are a leak in a
	// test or in the binding (a tensor made outside any Scope and not freed).
	if n := Live(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d tensor handles still live after the tests\n", n)
		code = 1
	}
	os.Exit(code)
}

// onDev copies Go values into a tensor on the test device. The host copy
// is freed at once: a caller outside any Scope owns only what it gets back
// (the leak check in TestMain caught 80 such copies in the first cuda run).
func onDev[T Element](data []T, shape ...int64) *Tensor {
	t := FromSlice(data, shape...)
	if testDev == CPU {
		return t
	}
	d := t.To(testDev)
	t.Free()
	return d
}

// uniform returns n deterministic values in [lo, hi).
func uniform(rng *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return v
}

func prod(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}
