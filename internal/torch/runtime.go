package torch

/*
#include "rt.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
)

// Device names where tensors live: "cpu", "cuda", "cuda:N".
type Device string

const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// ParseDevice checks that name is a device this libtorch can use and
// returns it; "" means cpu. Its error is one line naming the device.
func ParseDevice(name string) (Device, error) {
	if name == "" {
		return CPU, nil
	}
	cs, free := cstr(name)
	defer free()
	if msg := C.rt_check_device(cs); msg != nil {
		reason := C.GoString(msg)
		C.rt_free_string(msg)
		return Device(name), fmt.Errorf("device %q: %s", name, reason)
	}
	return Device(name), nil
}

// IsCUDA reports whether d names a CUDA device.
func (d Device) IsCUDA() bool { return strings.HasPrefix(string(d), "cuda") }

var mallocTuned bool

func init() {
	// See rt_tune_malloc in csrc/runtime.cc; RACNN_MALLOC_TUNING=0 opts out.
	if os.Getenv("RACNN_MALLOC_TUNING") != "0" {
		mallocTuned = C.rt_tune_malloc() != 0
	}
}

// MallocTuned reports whether the package tuned glibc's malloc for training
// loops at start-up (keep freed memory for reuse instead of returning it to
// the OS each step). RACNN_MALLOC_TUNING=0, or any glibc malloc tunable in
// the environment, leaves malloc alone.
func MallocTuned() bool { return mallocTuned }

// ManualSeed seeds libtorch's CPU and CUDA generators.
func ManualSeed(seed uint64) { check(C.rt_manual_seed(C.uint64_t(seed))) }

// SetNumThreads sets libtorch's intra-op thread count (n <= 0 leaves it).
// Call it on the thread that runs the ops (see OnThread).
func SetNumThreads(n int) { C.rt_set_num_threads(C.int(n)) }

// NumThreads returns libtorch's intra-op thread count on this thread.
func NumThreads() int { return int(C.rt_get_num_threads()) }

// CUDAAvailable reports whether this libtorch was built with CUDA and sees a GPU.
func CUDAAvailable() bool { return C.rt_cuda_is_available() != 0 }

// CUDADeviceCount returns the number of visible CUDA devices.
func CUDADeviceCount() int { return int(C.rt_cuda_device_count()) }

// Synchronize waits for the work queued on a CUDA device (no-op on CPU).
func Synchronize(d Device) {
	if !d.IsCUDA() {
		return
	}
	idx := -1
	if i := strings.IndexByte(string(d), ':'); i >= 0 {
		fmt.Sscanf(string(d)[i+1:], "%d", &idx)
	}
	check(C.rt_cuda_synchronize(C.int(idx)))
}

// SetAllowTF32 lets cuBLAS matmuls and cuDNN convolutions use TF32 on
// Ampere and later GPUs (faster, ~1e-3 relative error; libtorch's defaults
// are matmul off, cuDNN on). Process-wide; no effect on CPUs.
func SetAllowTF32(matmul, cudnn bool) { C.rt_set_allow_tf32(cbool(matmul), cbool(cudnn)) }

// Version returns libtorch's version.
func Version() string {
	var s *C.char
	check(C.rt_version(&s))
	defer C.rt_free_string(s)
	return C.GoString(s)
}

// Devices lists the devices this build can use.
func Devices() []Device {
	ds := []Device{CPU}
	for i := 0; i < CUDADeviceCount(); i++ {
		ds = append(ds, Device(fmt.Sprintf("cuda:%d", i)))
	}
	return ds
}

// CgoNoop makes one cgo call that does nothing: benchmarks compare an op's
// cost through the binding with the bare cost of crossing into C.
func CgoNoop() { C.rt_noop() }
