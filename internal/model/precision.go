package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/torch"
)

// Precisions a model's forward passes run in (runtime.precision).
const (
	FP32 = "fp32" // float32 throughout (TF32 on GPUs that allow it)
	BF16 = "bf16" // autocast to bfloat16: CPU or CUDA
	FP16 = "fp16" // autocast to float16: CUDA only, with loss scaling in training
)

// SetPrecision makes the model's forward passes (Forward, FusionForward,
// PretrainTargets) run in p: fp32, or under libtorch's autocast to bf16 or
// fp16. The weights stay float32 either way; what comes out for losses and
// metrics (logits, features, boxes, crops) is float32 too, and the box
// geometry, the crops and the fusion's normalisation are computed in
// float32 (docs/precision.md).
func (m *RACNN) SetPrecision(p string) error {
	switch p {
	case "", FP32, BF16:
	case FP16:
		if !m.Device().IsCUDA() {
			return fmt.Errorf("precision fp16 needs a CUDA device (libtorch autocasts to bf16 only on the CPU): use bf16 or fp32 on %s", m.Device())
		}
	default:
		return fmt.Errorf("precision %q: want fp32, bf16 or fp16", p)
	}
	if p == "" {
		p = FP32
	}
	m.precision = p
	return nil
}

// Precision returns what SetPrecision set (fp32 by default).
func (m *RACNN) Precision() string {
	if m.precision == "" {
		return FP32
	}
	return m.precision
}

// autocast runs f under the model's autocast (or as it is for fp32).
func (m *RACNN) autocast(f func()) {
	switch m.Precision() {
	case BF16:
		torch.Autocast(m.Device(), torch.BFloat16, f)
	case FP16:
		torch.Autocast(m.Device(), torch.Float16, f)
	default:
		f()
	}
}
