package weights

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// DType is an element type, spelled as in the safetensors header.
type DType string

// The element types this package reads and writes.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size is the number of bytes of one element, or 0 for an unknown DType.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// Valid reports whether d is one of the DTypes above.
func (d DType) Valid() bool { return d.Size() != 0 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// Tensor is a dense, row-major (C-contiguous) tensor held as raw
// little-endian bytes: len(Data) == NumElements()*DType.Size(). A 0-dim
// scalar has an empty (non-nil or nil) Shape and one element.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NumElements is the product of the shape (1 for a scalar), or -1 when a
// dimension is negative or the product overflows.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/d {
			return -1
		}
		n *= d
	}
	return n
}

// NumElements is the number of elements the shape describes.
func (t *Tensor) NumElements() int64 { return NumElements(t.Shape) }

// Validate checks the dtype, the shape and that Data has exactly the number
// of bytes they describe.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("nil tensor")
	}
	if !t.DType.Valid() {
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	n := t.NumElements()
	if n < 0 || n > math.MaxInt64/int64(t.DType.Size()) {
		return fmt.Errorf("invalid shape %v", t.Shape)
	}
	if want := n * int64(t.DType.Size()); int64(len(t.Data)) != want {
		return fmt.Errorf("%s%v needs %d bytes, has %d", t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// NewTensor checks and wraps raw little-endian bytes; data is not copied.
func NewTensor(dtype DType, shape []int64, data []byte) (*Tensor, error) {
	t := &Tensor{DType: dtype, Shape: append([]int64{}, shape...), Data: data}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{
		DType: t.DType,
		Shape: append([]int64{}, t.Shape...),
		Data:  append([]byte{}, t.Data...),
	}
}

// FromFloat32 builds an F32 tensor holding a copy of v.
func FromFloat32(shape []int64, v []float32) (*Tensor, error) {
	return fromValues(F32, shape, v, func(b []byte, x float32) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
	})
}

// FromFloat64 builds an F64 tensor holding a copy of v.
func FromFloat64(shape []int64, v []float64) (*Tensor, error) {
	return fromValues(F64, shape, v, func(b []byte, x float64) {
		binary.LittleEndian.PutUint64(b, math.Float64bits(x))
	})
}

// FromInt64 builds an I64 tensor holding a copy of v.
func FromInt64(shape []int64, v []int64) (*Tensor, error) {
	return fromValues(I64, shape, v, func(b []byte, x int64) {
		binary.LittleEndian.PutUint64(b, uint64(x))
	})
}

func fromValues[T any](dt DType, shape []int64, v []T, put func([]byte, T)) (*Tensor, error) {
	if n := NumElements(shape); n != int64(len(v)) {
		return nil, fmt.Errorf("shape %v holds %d elements, got %d values", shape, n, len(v))
	}
	es := dt.Size()
	data := make([]byte, len(v)*es)
	for i, x := range v {
		put(data[i*es:], x)
	}
	return &Tensor{DType: dt, Shape: append([]int64{}, shape...), Data: data}, nil
}

// Float32s returns a copy of the values of an F32 tensor.
func (t *Tensor) Float32s() ([]float32, error) {
	return values(t, F32, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// Float64s returns a copy of the values of an F64 tensor.
func (t *Tensor) Float64s() ([]float64, error) {
	return values(t, F64, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
}

// Int64s returns a copy of the values of an I64 tensor.
func (t *Tensor) Int64s() ([]int64, error) {
	return values(t, I64, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

func values[T any](t *Tensor, dt DType, get func([]byte) T) ([]T, error) {
	if t.DType != dt {
		return nil, fmt.Errorf("tensor is %s, not %s", t.DType, dt)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	es := dt.Size()
	out := make([]T, len(t.Data)/es)
	for i := range out {
		out[i] = get(t.Data[i*es:])
	}
	return out, nil
}

// ToFloat32s converts the values of any floating-point tensor (F32, F64,
// F16, BF16) to a new []float32. F64 values are rounded to nearest; the
// 16-bit types convert exactly.
func (t *Tensor) ToFloat32s() ([]float32, error) {
	switch t.DType {
	case F32:
		return t.Float32s()
	case F64:
		return values(t, F64, func(b []byte) float32 {
			return float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		})
	case F16:
		return values(t, F16, func(b []byte) float32 { return Float16ToFloat32(binary.LittleEndian.Uint16(b)) })
	case BF16:
		return values(t, BF16, func(b []byte) float32 {
			return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
		})
	}
	return nil, fmt.Errorf("tensor is %s, not a floating-point type", t.DType)
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to a float32
// (exactly: every half value is representable).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	}
	// subnormal: mant × 2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// Float32View returns the values of an F32 tensor without copying: the
// slice shares t.Data. It fails on a big-endian host or when Data is not
// 4-byte aligned (sub-slices of a larger buffer may not be); use Float32s
// then.
func (t *Tensor) Float32View() ([]float32, error) { return view[float32](t, F32) }

// Float64View is Float32View for F64 tensors.
func (t *Tensor) Float64View() ([]float64, error) { return view[float64](t, F64) }

// Int64View is Float32View for I64 tensors.
func (t *Tensor) Int64View() ([]int64, error) { return view[int64](t, I64) }

var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func view[T float32 | float64 | int64](t *Tensor, dt DType) ([]T, error) {
	if t.DType != dt {
		return nil, fmt.Errorf("tensor is %s, not %s", t.DType, dt)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !littleEndianHost {
		return nil, fmt.Errorf("cannot view little-endian data on a big-endian host; copy it instead")
	}
	if len(t.Data) == 0 {
		return []T{}, nil
	}
	p := unsafe.Pointer(&t.Data[0])
	if uintptr(p)%uintptr(dt.Size()) != 0 {
		return nil, fmt.Errorf("tensor data is not %d-byte aligned; copy it instead", dt.Size())
	}
	return unsafe.Slice((*T)(p), len(t.Data)/dt.Size()), nil
}
