package nn

import (
	"fmt"

	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// ToWeights copies a tensor (on any device) into a pure-Go weights.Tensor,
// for safetensors files. float32, float64 and int64 tensors are supported.
func ToWeights(t *torch.Tensor) (*weights.Tensor, error) {
	shape := t.Shape()
	switch t.DType() {
	case torch.Float32:
		return weights.FromFloat32(shape, t.Float32s())
	case torch.Float64:
		return weights.FromFloat64(shape, t.Float64s())
	case torch.Int64:
		return weights.FromInt64(shape, t.Int64s())
	}
	return nil, fmt.Errorf("dtype %v is not saved", t.DType())
}

// FromWeights copies a weights.Tensor into a new CPU tensor: float64 stays
// float64, other floating-point types (F32, F16, BF16) become float32, I64
// stays int64.
func FromWeights(w *weights.Tensor) (*torch.Tensor, error) {
	switch {
	case w.DType == weights.I64:
		v, err := w.Int64s()
		if err != nil {
			return nil, err
		}
		return torch.FromSlice(v, w.Shape...), nil
	case w.DType == weights.F64:
		v, err := w.Float64s()
		if err != nil {
			return nil, err
		}
		return torch.FromSlice(v, w.Shape...), nil
	case w.DType.IsFloat():
		if v, err := w.Float32View(); err == nil {
			return torch.FromSlice(v, w.Shape...), nil
		}
		v, err := w.ToFloat32s()
		if err != nil {
			return nil, err
		}
		return torch.FromSlice(v, w.Shape...), nil
	}
	return nil, fmt.Errorf("dtype %s is not a float or int64 tensor", w.DType)
}
