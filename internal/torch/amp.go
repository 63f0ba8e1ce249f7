package torch

/*
#include "rt.h"
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
)

// Autocast runs f with libtorch's autocast on dev's device type, as
// torch.autocast(dev.type, dtype): matmuls and convolutions run in dtype
// (BFloat16, or Float16 on CUDA), the ops autocast keeps in float32 run in
// float32, and the weights stay float32 (autocast casts a copy, cached
// until the outermost region closes). The state is per OS thread; the
// previous one is restored when f returns or panics.
func Autocast(dev Device, dtype DType, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cuda := cbool(dev.IsCUDA())
	prevOn, prevType := C.rt_autocast_enabled(cuda), C.rt_autocast_dtype(cuda)
	check(C.rt_autocast_enter(cuda, 1, C.int(dtype)))
	defer func() { check(C.rt_autocast_exit(cuda, prevOn, prevType)) }()
	f()
}

// WithoutAutocast runs f with autocast off on every device type, as
// torch.autocast(enabled=False): ops run in their inputs' dtype, so a
// region that must compute in float32 casts its inputs to Float32 first.
// Outside any Autocast it only calls f.
func WithoutAutocast(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, cuda := range []C.int{0, 1} {
		if C.rt_autocast_enabled(cuda) == 0 {
			continue
		}
		prevType := C.rt_autocast_dtype(cuda)
		check(C.rt_autocast_enter(cuda, 0, prevType))
		defer func() { check(C.rt_autocast_exit(cuda, 1, prevType)) }()
	}
	f()
}

// AutocastEnabled reports whether autocast is on for dev's device type on
// this OS thread.
func AutocastEnabled(dev Device) bool { return C.rt_autocast_enabled(cbool(dev.IsCUDA())) != 0 }

// Widen returns a bf16 or fp16 t as float32 (a copy that autograd
// differentiates through) and any other t as it is (no new handle): what
// autocast made low precision goes back to float32, float64 stays.
func (t *Tensor) Widen() *Tensor {
	if d := t.DType(); d == BFloat16 || d == Float16 {
		return t.ToDType(Float32)
	}
	return t
}

// InferenceMode runs f under torch.inference_mode on this OS thread: no
// graph is recorded, and ops also skip the version counters and view
// tracking that NoGrad keeps. Tensors made in f can never be used in a
// graph later, so only evaluation that returns Go values should use it.
func InferenceMode(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := C.rt_inference_mode_enter()
	defer C.rt_inference_mode_exit(g)
	f()
}

// SetCuDNNBenchmark turns cuDNN's autotuning on or off (process-wide): with
// fixed input sizes the fastest convolution algorithm is found once per
// shape. No effect on CPUs.
func SetCuDNNBenchmark(on bool) { C.rt_set_cudnn_benchmark(cbool(on)) }

// CuDNNBenchmark reports SetCuDNNBenchmark's setting.
func CuDNNBenchmark() bool { return C.rt_cudnn_benchmark() != 0 }

// AllowTF32 reports SetAllowTF32's settings (matmuls, convolutions).
func AllowTF32() (matmul, cudnn bool) {
	return C.rt_allow_tf32_matmul() != 0, C.rt_allow_tf32_cudnn() != 0
}

// GradScaler is dynamic loss scaling with torch.cuda.amp.GradScaler's
// semantics (PyTorch 1.13): the loss is multiplied by Scale before
// backward, so small float16 gradients do not flush to zero; Unscale
// divides the gradients back and reports infs or NaNs, in which case the
// caller skips the optimiser step; Update halves the scale after such a
// step and doubles it after GrowthInterval steps in a row without one.
// Scale and GrowthTracker are its whole state (a checkpoint saves them).
type GradScaler struct {
	Scale          float32 // current loss scale (PyTorch keeps it in a float32 tensor)
	GrowthTracker  int     // steps since the last inf/NaN or growth
	GrowthFactor   float32
	BackoffFactor  float32
	GrowthInterval int
}

// NewGradScaler returns a scaler with PyTorch's defaults: scale 65536,
// growth 2, backoff 0.5, interval 2000.
func NewGradScaler() *GradScaler {
	return &GradScaler{Scale: 65536, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}
}

// Validate reports a setting that would make the scaler meaningless.
func (s *GradScaler) Validate() error {
	switch {
	case !(s.Scale > 0) || math.IsInf(float64(s.Scale), 0):
		return fmt.Errorf("loss scale %v: want a finite value > 0", s.Scale)
	case !(s.GrowthFactor > 1):
		return fmt.Errorf("loss scale growth factor %v: want > 1", s.GrowthFactor)
	case !(s.BackoffFactor > 0 && s.BackoffFactor < 1):
		return fmt.Errorf("loss scale backoff factor %v: want in (0, 1)", s.BackoffFactor)
	case s.GrowthInterval < 1:
		return fmt.Errorf("loss scale growth interval %d: want >= 1", s.GrowthInterval)
	}
	return nil
}

// ScaleLoss returns loss × Scale, the tensor to call Backward on.
func (s *GradScaler) ScaleLoss(loss *Tensor) *Tensor { return loss.MulScalar(float64(s.Scale)) }

// Unscale multiplies the grads of params by 1/Scale in place (computed as
// PyTorch does: the reciprocal in float64, rounded to float32) and reports
// whether any of them holds an inf or NaN; then the step must be skipped.
func (s *GradScaler) Unscale(params []*Tensor) (foundInf bool) {
	hs := handles(params)
	inv := float64(float32(1 / float64(s.Scale)))
	var found C.int
	check(C.rt_amp_unscale_grads(handlesPtr(hs), C.int(len(hs)), C.double(inv), &found))
	return found != 0
}

// Update moves the scale after a step, as torch._amp_update_scale_: back
// off after infs or NaNs, grow after GrowthInterval clean steps in a row
// (unless the grown scale would not be finite in float32).
func (s *GradScaler) Update(foundInf bool) {
	if foundInf {
		s.Scale *= s.BackoffFactor
		s.GrowthTracker = 0
		return
	}
	s.GrowthTracker++
	if s.GrowthTracker == s.GrowthInterval {
		if g := s.Scale * s.GrowthFactor; !math.IsInf(float64(g), 0) {
			s.Scale = g
		}
		s.GrowthTracker = 0
	}
}
