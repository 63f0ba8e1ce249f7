package torch

/*
#include <stdlib.h>
#include "rt.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Element is a Go type a tensor can be built from or copied into.
type Element interface {
	~float32 | ~float64 | ~int64 | ~uint8 | ~int32 | ~bool
}

func dtypeOf[T Element]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case uint8:
		return Uint8
	case int32:
		return Int32
	case bool:
		return Bool
	}
	panic(&Error{Msg: fmt.Sprintf("unsupported element type %T", z)})
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// FromSlice copies data into a new CPU tensor of the given shape.
func FromSlice[T Element](data []T, shape ...int64) *Tensor {
	must(numel(shape) == int64(len(data)), "FromSlice: %d values for shape %v", len(data), shape)
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	var out *C.rt_tensor
	check(C.rt_tensor_from_data(p, int64s(shape), C.int(len(shape)), C.int(dtypeOf[T]()), &out))
	return wrap(out)
}

// Scalar returns a 0-dim float32 CPU tensor.
func Scalar(v float32) *Tensor { return FromSlice([]float32{v}) }

// Values copies t (converted to T, moved to the CPU) into a new slice.
func Values[T Element](t *Tensor) []T {
	out := make([]T, t.Numel())
	CopyTo(t, out)
	return out
}

// CopyTo copies t (converted to T, moved to the CPU) into dst, whose length
// must equal t's element count.
func CopyTo[T Element](t *Tensor, dst []T) {
	var z T
	var p unsafe.Pointer
	if len(dst) > 0 {
		p = unsafe.Pointer(&dst[0])
	}
	check(C.rt_tensor_copy_out(t.ptr(), p, C.size_t(len(dst))*C.size_t(unsafe.Sizeof(z)), C.int(dtypeOf[T]())))
}

// Float64s is Values[float64].
func (t *Tensor) Float64s() []float64 { return Values[float64](t) }

// Float32s is Values[float32].
func (t *Tensor) Float32s() []float32 { return Values[float32](t) }

// Int64s is Values[int64].
func (t *Tensor) Int64s() []int64 { return Values[int64](t) }

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float64 {
	var v C.double
	check(C.rt_tensor_item(t.ptr(), &v))
	return float64(v)
}

// Shape returns the sizes of t's dimensions.
func (t *Tensor) Shape() []int64 {
	var buf [16]int64
	var n C.int
	check(C.rt_tensor_shape(t.ptr(), (*C.int64_t)(unsafe.Pointer(&buf[0])), 16, &n))
	return append([]int64(nil), buf[:n]...)
}

// Dim returns the number of dimensions.
func (t *Tensor) Dim() int { return len(t.Shape()) }

// Size returns the size of dimension d (negative counts from the end).
func (t *Tensor) Size(d int) int64 {
	s := t.Shape()
	if d < 0 {
		d += len(s)
	}
	must(d >= 0 && d < len(s), "Size(%d) of a %d-dim tensor", d, len(s))
	return s[d]
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int64 {
	var n C.int64_t
	check(C.rt_tensor_numel(t.ptr(), &n))
	return int64(n)
}

// DType returns the element type.
func (t *Tensor) DType() DType {
	var d C.int
	check(C.rt_tensor_dtype(t.ptr(), &d))
	return DType(d)
}

// Device returns the device t lives on.
func (t *Tensor) Device() Device {
	var s *C.char
	check(C.rt_tensor_device(t.ptr(), &s))
	defer C.rt_free_string(s)
	return Device(C.GoString(s))
}

// To returns t on device d (no copy when already there).
func (t *Tensor) To(d Device) *Tensor {
	cs, free := cstr(string(d))
	defer free()
	var out *C.rt_tensor
	check(C.rt_tensor_to(t.ptr(), cs, -1, 0, &out))
	return wrap(out)
}

// ToDType returns t converted to dtype d.
func (t *Tensor) ToDType(d DType) *Tensor {
	var out *C.rt_tensor
	check(C.rt_tensor_to(t.ptr(), nil, C.int(d), 0, &out))
	return wrap(out)
}

// Contiguous returns t in row-major (NCHW) memory order.
func (t *Tensor) Contiguous() *Tensor {
	var out *C.rt_tensor
	check(C.rt_tensor_contiguous(t.ptr(), 0, &out))
	return wrap(out)
}

// ChannelsLast returns a 4-D t in NHWC memory order (same logical shape),
// which oneDNN and cuDNN convolutions run faster on.
func (t *Tensor) ChannelsLast() *Tensor {
	var out *C.rt_tensor
	check(C.rt_tensor_contiguous(t.ptr(), 1, &out))
	return wrap(out)
}

// IsContiguous reports whether t is row-major (or, with channelsLast, NHWC).
func (t *Tensor) IsContiguous(channelsLast bool) bool {
	var y C.int
	check(C.rt_tensor_is_contiguous(t.ptr(), cbool(channelsLast), &y))
	return y != 0
}

// Clone returns a copy of t that autograd sees as a function of t.
func (t *Tensor) Clone() *Tensor {
	var out *C.rt_tensor
	check(C.rt_tensor_clone(t.ptr(), &out))
	return wrap(out)
}

// CopyFrom copies src's values into t in place, outside autograd.
func (t *Tensor) CopyFrom(src *Tensor) {
	check(C.rt_tensor_copy_(t.ptr(), src.ptr()))
}

// String prints t as libtorch does.
func (t *Tensor) String() string {
	if t == nil || t.freed {
		return "<freed tensor>"
	}
	var s *C.char
	check(C.rt_tensor_string(t.ptr(), &s))
	defer C.rt_free_string(s)
	return C.GoString(s)
}

type factory func(shape *C.int64_t, ndim C.int, dtype C.int, dev *C.char, out **C.rt_tensor) *C.char

func newTensor(f factory, shape []int64, opts []Option) *Tensor {
	o := options(opts)
	cs, free := cstr(string(o.device))
	defer free()
	var out *C.rt_tensor
	check(f(int64s(shape), C.int(len(shape)), C.int(o.dtype), cs, &out))
	return wrap(out)
}

// Zeros returns a tensor of zeros (float32 on the CPU unless opts say otherwise).
func Zeros(shape []int64, opts ...Option) *Tensor {
	return newTensor(func(s *C.int64_t, n C.int, d C.int, dev *C.char, o **C.rt_tensor) *C.char {
		return C.rt_zeros(s, n, d, dev, o)
	}, shape, opts)
}

// Ones returns a tensor of ones.
func Ones(shape []int64, opts ...Option) *Tensor {
	return newTensor(func(s *C.int64_t, n C.int, d C.int, dev *C.char, o **C.rt_tensor) *C.char {
		return C.rt_ones(s, n, d, dev, o)
	}, shape, opts)
}

// Rand returns uniform [0, 1) samples from libtorch's generator (see ManualSeed).
func Rand(shape []int64, opts ...Option) *Tensor {
	return newTensor(func(s *C.int64_t, n C.int, d C.int, dev *C.char, o **C.rt_tensor) *C.char {
		return C.rt_rand(s, n, d, dev, o)
	}, shape, opts)
}

// Randn returns standard normal samples.
func Randn(shape []int64, opts ...Option) *Tensor {
	return newTensor(func(s *C.int64_t, n C.int, d C.int, dev *C.char, o **C.rt_tensor) *C.char {
		return C.rt_randn(s, n, d, dev, o)
	}, shape, opts)
}

// Full returns a tensor filled with v.
func Full(shape []int64, v float64, opts ...Option) *Tensor {
	o := options(opts)
	cs, free := cstr(string(o.device))
	defer free()
	var out *C.rt_tensor
	check(C.rt_full(int64s(shape), C.int(len(shape)), C.double(v), C.int(o.dtype), cs, &out))
	return wrap(out)
}

// ZerosLike returns zeros with t's shape, dtype, device and memory format
// (a channels-last t gives a channels-last result), as torch.zeros_like.
func ZerosLike(t *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_zeros_like(t.ptr(), &out))
	return wrap(out)
}

// Arange returns start, start+step, ... below end.
func Arange(start, end, step float64, opts ...Option) *Tensor {
	o := options(opts)
	cs, free := cstr(string(o.device))
	defer free()
	var out *C.rt_tensor
	check(C.rt_arange(C.double(start), C.double(end), C.double(step), C.int(o.dtype), cs, &out))
	return wrap(out)
}

// Linspace returns steps evenly spaced values from start to end inclusive.
func Linspace(start, end float64, steps int64, opts ...Option) *Tensor {
	o := options(opts)
	cs, free := cstr(string(o.device))
	defer free()
	var out *C.rt_tensor
	check(C.rt_linspace(C.double(start), C.double(end), C.int64_t(steps), C.int(o.dtype), cs, &out))
	return wrap(out)
}

// Option sets the dtype or device of a new tensor.
type Option func(*tensorOptions)

type tensorOptions struct {
	dtype  DType
	device Device
}

// WithDType sets a new tensor's element type (default float32).
func WithDType(d DType) Option { return func(o *tensorOptions) { o.dtype = d } }

// OnDevice sets a new tensor's device (default cpu).
func OnDevice(d Device) Option { return func(o *tensorOptions) { o.device = d } }

func options(opts []Option) tensorOptions {
	o := tensorOptions{dtype: Float32}
	for _, f := range opts {
		f(&o)
	}
	return o
}
