package torch

/*
#include "rt.h"
*/
import "C"

func unary(op C.int, a *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_unary(op, a.ptr(), &out))
	return wrap(out)
}

func binary(op C.int, a, b *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_binary(op, a.ptr(), b.ptr(), &out))
	return wrap(out)
}

func binaryScalar(op C.int, a *Tensor, s float64, reverse bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_binary_scalar(op, a.ptr(), C.double(s), cbool(reverse), &out))
	return wrap(out)
}

// Elementwise functions, as torch.neg, torch.exp, ...
func (t *Tensor) Neg() *Tensor        { return unary(C.RT_NEG, t) }
func (t *Tensor) Exp() *Tensor        { return unary(C.RT_EXP, t) }
func (t *Tensor) Log() *Tensor        { return unary(C.RT_LOG, t) }
func (t *Tensor) Sigmoid() *Tensor    { return unary(C.RT_SIGMOID, t) }
func (t *Tensor) Tanh() *Tensor       { return unary(C.RT_TANH, t) }
func (t *Tensor) Relu() *Tensor       { return unary(C.RT_RELU, t) }
func (t *Tensor) Sqrt() *Tensor       { return unary(C.RT_SQRT, t) }
func (t *Tensor) Abs() *Tensor        { return unary(C.RT_ABS, t) }
func (t *Tensor) Floor() *Tensor      { return unary(C.RT_FLOOR, t) }
func (t *Tensor) Ceil() *Tensor       { return unary(C.RT_CEIL, t) }
func (t *Tensor) Round() *Tensor      { return unary(C.RT_ROUND, t) }
func (t *Tensor) Sign() *Tensor       { return unary(C.RT_SIGN, t) }
func (t *Tensor) Square() *Tensor     { return unary(C.RT_SQUARE, t) }
func (t *Tensor) Reciprocal() *Tensor { return unary(C.RT_RECIPROCAL, t) }
func (t *Tensor) IsFinite() *Tensor   { return unary(C.RT_ISFINITE, t) }
func (t *Tensor) LogicalNot() *Tensor { return unary(C.RT_LOGICAL_NOT, t) }

// Elementwise binary ops with broadcasting, as torch.add, torch.mul, ...
func (t *Tensor) Add(o *Tensor) *Tensor        { return binary(C.RT_ADD, t, o) }
func (t *Tensor) Sub(o *Tensor) *Tensor        { return binary(C.RT_SUB, t, o) }
func (t *Tensor) Mul(o *Tensor) *Tensor        { return binary(C.RT_MUL, t, o) }
func (t *Tensor) Div(o *Tensor) *Tensor        { return binary(C.RT_DIV, t, o) }
func (t *Tensor) Pow(o *Tensor) *Tensor        { return binary(C.RT_POW, t, o) }
func (t *Tensor) Maximum(o *Tensor) *Tensor    { return binary(C.RT_MAXIMUM, t, o) }
func (t *Tensor) Minimum(o *Tensor) *Tensor    { return binary(C.RT_MINIMUM, t, o) }
func (t *Tensor) Eq(o *Tensor) *Tensor         { return binary(C.RT_EQ, t, o) }
func (t *Tensor) Ne(o *Tensor) *Tensor         { return binary(C.RT_NE, t, o) }
func (t *Tensor) Lt(o *Tensor) *Tensor         { return binary(C.RT_LT, t, o) }
func (t *Tensor) Le(o *Tensor) *Tensor         { return binary(C.RT_LE, t, o) }
func (t *Tensor) Gt(o *Tensor) *Tensor         { return binary(C.RT_GT, t, o) }
func (t *Tensor) Ge(o *Tensor) *Tensor         { return binary(C.RT_GE, t, o) }
func (t *Tensor) LogicalAnd(o *Tensor) *Tensor { return binary(C.RT_LOGICAL_AND, t, o) }
func (t *Tensor) LogicalOr(o *Tensor) *Tensor  { return binary(C.RT_LOGICAL_OR, t, o) }

// Ops with a Go scalar on the right (t op s); RSub and RDiv compute s - t, s / t.
func (t *Tensor) AddScalar(s float64) *Tensor { return binaryScalar(C.RT_ADD, t, s, false) }
func (t *Tensor) SubScalar(s float64) *Tensor { return binaryScalar(C.RT_SUB, t, s, false) }
func (t *Tensor) MulScalar(s float64) *Tensor { return binaryScalar(C.RT_MUL, t, s, false) }
func (t *Tensor) DivScalar(s float64) *Tensor { return binaryScalar(C.RT_DIV, t, s, false) }
func (t *Tensor) PowScalar(s float64) *Tensor { return binaryScalar(C.RT_POW, t, s, false) }
func (t *Tensor) RSub(s float64) *Tensor      { return binaryScalar(C.RT_SUB, t, s, true) }
func (t *Tensor) RDiv(s float64) *Tensor      { return binaryScalar(C.RT_DIV, t, s, true) }
func (t *Tensor) EqScalar(s float64) *Tensor  { return binaryScalar(C.RT_EQ, t, s, false) }
func (t *Tensor) LtScalar(s float64) *Tensor  { return binaryScalar(C.RT_LT, t, s, false) }
func (t *Tensor) LeScalar(s float64) *Tensor  { return binaryScalar(C.RT_LE, t, s, false) }
func (t *Tensor) GtScalar(s float64) *Tensor  { return binaryScalar(C.RT_GT, t, s, false) }
func (t *Tensor) GeScalar(s float64) *Tensor  { return binaryScalar(C.RT_GE, t, s, false) }

// Clamp limits t to [lo, hi]; ClampMin and ClampMax bound one side.
func (t *Tensor) Clamp(lo, hi float64) *Tensor { return clamp(t, lo, hi, true, true) }
func (t *Tensor) ClampMin(lo float64) *Tensor  { return clamp(t, lo, 0, true, false) }
func (t *Tensor) ClampMax(hi float64) *Tensor  { return clamp(t, 0, hi, false, true) }

func clamp(t *Tensor, lo, hi float64, hasLo, hasHi bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_clamp(t.ptr(), C.double(lo), C.double(hi), cbool(hasLo), cbool(hasHi), &out))
	return wrap(out)
}

// Where picks a where cond is true and b elsewhere, with broadcasting.
func Where(cond, a, b *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_where(cond.ptr(), a.ptr(), b.ptr(), &out))
	return wrap(out)
}

// AddInPlace does t += alpha*o outside autograd (buffers, optimiser state).
func (t *Tensor) AddInPlace(o *Tensor, alpha float64) {
	check(C.rt_add_(t.ptr(), o.ptr(), C.double(alpha)))
}

// MulScalarInPlace does t *= s outside autograd.
func (t *Tensor) MulScalarInPlace(s float64) { check(C.rt_mul_scalar_(t.ptr(), C.double(s))) }

// ReluInPlace applies ReLU to t in place, recorded by autograd as
// torch.relu_, and returns t. Use it only on a fresh activation that no
// other op has saved for backward (autograd's version check errors if so):
// it saves the allocation of a new tensor, as torchvision's inplace ReLUs do.
func (t *Tensor) ReluInPlace() *Tensor {
	check(C.rt_relu_(t.ptr()))
	return t
}

// Fill sets every element of t to v outside autograd.
func (t *Tensor) Fill(v float64) { check(C.rt_fill_(t.ptr(), C.double(v))) }

func reduce(op C.int, t *Tensor, dims []int64, keepdim bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_reduce(op, t.ptr(), int64s(dims), C.int(len(dims)), cbool(keepdim), &out))
	return wrap(out)
}

// Sum and Mean reduce all elements to a 0-dim tensor.
func (t *Tensor) Sum() *Tensor  { return reduce(C.RT_SUM, t, nil, false) }
func (t *Tensor) Mean() *Tensor { return reduce(C.RT_MEAN, t, nil, false) }

// SumDims, MeanDims, AmaxDims and AminDims reduce over dims.
func (t *Tensor) SumDims(dims []int64, keepdim bool) *Tensor {
	return reduce(C.RT_SUM, t, dims, keepdim)
}
func (t *Tensor) MeanDims(dims []int64, keepdim bool) *Tensor {
	return reduce(C.RT_MEAN, t, dims, keepdim)
}
func (t *Tensor) AmaxDims(dims []int64, keepdim bool) *Tensor {
	return reduce(C.RT_AMAX, t, dims, keepdim)
}
func (t *Tensor) AminDims(dims []int64, keepdim bool) *Tensor {
	return reduce(C.RT_AMIN, t, dims, keepdim)
}

// Max returns the maximum along dim and its index, as torch.max(t, dim).
func (t *Tensor) Max(dim int64, keepdim bool) (values, indices *Tensor) {
	var v, i *C.rt_tensor
	check(C.rt_max_dim(t.ptr(), C.int64_t(dim), cbool(keepdim), &v, &i))
	return wrap(v), wrap(i)
}

// Argmax returns the index of the maximum along dim.
func (t *Tensor) Argmax(dim int64, keepdim bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_argmax(t.ptr(), C.int64_t(dim), cbool(keepdim), &out))
	return wrap(out)
}

// TopK returns the k largest (or smallest) values along dim, sorted, and their indices.
func (t *Tensor) TopK(k, dim int64, largest bool) (values, indices *Tensor) {
	var v, i *C.rt_tensor
	check(C.rt_topk(t.ptr(), C.int64_t(k), C.int64_t(dim), cbool(largest), &v, &i))
	return wrap(v), wrap(i)
}

// Matmul is torch.matmul.
func (t *Tensor) Matmul(o *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_matmul(t.ptr(), o.ptr(), &out))
	return wrap(out)
}

// Reshape returns t with a new shape (-1 infers one dim), a view when possible.
func (t *Tensor) Reshape(shape ...int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_reshape(t.ptr(), int64s(shape), C.int(len(shape)), &out))
	return wrap(out)
}

// Permute reorders dims.
func (t *Tensor) Permute(dims ...int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_permute(t.ptr(), int64s(dims), C.int(len(dims)), &out))
	return wrap(out)
}

// Transpose swaps two dims.
func (t *Tensor) Transpose(d0, d1 int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_transpose(t.ptr(), C.int64_t(d0), C.int64_t(d1), &out))
	return wrap(out)
}

// Narrow returns the slice [start, start+length) of dim, a view.
func (t *Tensor) Narrow(dim, start, length int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_narrow(t.ptr(), C.int64_t(dim), C.int64_t(start), C.int64_t(length), &out))
	return wrap(out)
}

// IndexSelect picks the entries of dim listed in index (int64).
func (t *Tensor) IndexSelect(dim int64, index *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_index_select(t.ptr(), C.int64_t(dim), index.ptr(), &out))
	return wrap(out)
}

// Gather is torch.gather.
func (t *Tensor) Gather(dim int64, index *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_gather(t.ptr(), C.int64_t(dim), index.ptr(), &out))
	return wrap(out)
}

// Expand broadcasts size-1 dims to shape (-1 keeps a dim), a view.
func (t *Tensor) Expand(shape ...int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_expand(t.ptr(), int64s(shape), C.int(len(shape)), &out))
	return wrap(out)
}

// Squeeze removes dim if its size is 1.
func (t *Tensor) Squeeze(dim int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_squeeze(t.ptr(), C.int64_t(dim), &out))
	return wrap(out)
}

// Unsqueeze inserts a size-1 dim.
func (t *Tensor) Unsqueeze(dim int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_unsqueeze(t.ptr(), C.int64_t(dim), &out))
	return wrap(out)
}

// Flatten merges dims start..end (inclusive; -1 is the last).
func (t *Tensor) Flatten(start, end int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_flatten(t.ptr(), C.int64_t(start), C.int64_t(end), &out))
	return wrap(out)
}

// Cat concatenates along dim.
func Cat(ts []*Tensor, dim int64) *Tensor {
	hs := handles(ts)
	var out *C.rt_tensor
	check(C.rt_cat(handlesPtr(hs), C.int(len(hs)), C.int64_t(dim), &out))
	return wrap(out)
}

// Stack joins along a new dim.
func Stack(ts []*Tensor, dim int64) *Tensor {
	hs := handles(ts)
	var out *C.rt_tensor
	check(C.rt_stack(handlesPtr(hs), C.int(len(hs)), C.int64_t(dim), &out))
	return wrap(out)
}
