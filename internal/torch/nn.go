package torch

/*
#include "rt.h"
*/
import "C"

// Reduction selects how a loss reduces over the batch (at::Reduction).
type Reduction int

const (
	ReduceNone Reduction = 0
	ReduceMean Reduction = 1
	ReduceSum  Reduction = 2
)

func pair(v [2]int64) *C.int64_t { return (*C.int64_t)(&v[0]) }

// Linear computes x·wᵀ + b (b may be nil), as torch.nn.functional.linear.
func Linear(x, w, b *Tensor) *Tensor {
	var out *C.rt_tensor
	check(C.rt_linear(x.ptr(), w.ptr(), optPtr(b), &out))
	return wrap(out)
}

// Conv2dOpts are conv2d's geometry; the zero value means stride 1, no padding.
type Conv2dOpts struct {
	Stride, Padding, Dilation [2]int64
	Groups                    int64
}

// Conv2d is torch.nn.functional.conv2d on NCHW input (b may be nil).
func Conv2d(x, w, b *Tensor, o Conv2dOpts) *Tensor {
	if o.Stride == [2]int64{} {
		o.Stride = [2]int64{1, 1}
	}
	if o.Dilation == [2]int64{} {
		o.Dilation = [2]int64{1, 1}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	var out *C.rt_tensor
	check(C.rt_conv2d(x.ptr(), w.ptr(), optPtr(b), pair(o.Stride), pair(o.Padding), pair(o.Dilation),
		C.int64_t(o.Groups), &out))
	return wrap(out)
}

// MaxPool2d is torch.nn.functional.max_pool2d; a zero stride means the
// kernel size (PyTorch's default).
func MaxPool2d(x *Tensor, kernel, stride, padding [2]int64, ceil bool) *Tensor {
	if stride == [2]int64{} {
		stride = kernel
	}
	var out *C.rt_tensor
	check(C.rt_max_pool2d(x.ptr(), pair(kernel), pair(stride), pair(padding), cbool(ceil), &out))
	return wrap(out)
}

// AvgPool2d is torch.nn.functional.avg_pool2d (count_include_pad=True); a
// zero stride means the kernel size.
func AvgPool2d(x *Tensor, kernel, stride, padding [2]int64, ceil bool) *Tensor {
	if stride == [2]int64{} {
		stride = kernel
	}
	var out *C.rt_tensor
	check(C.rt_avg_pool2d(x.ptr(), pair(kernel), pair(stride), pair(padding), cbool(ceil), &out))
	return wrap(out)
}

// AdaptiveAvgPool2d pools to an output of size h×w.
func AdaptiveAvgPool2d(x *Tensor, h, w int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_adaptive_avg_pool2d(x.ptr(), pair([2]int64{h, w}), &out))
	return wrap(out)
}

// Dropout zeroes elements with probability p in training and scales the rest.
func Dropout(x *Tensor, p float64, train bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_dropout(x.ptr(), C.double(p), cbool(train), &out))
	return wrap(out)
}

// BatchNorm is torch.nn.functional.batch_norm: in training it normalises by
// batch statistics and updates runningMean/runningVar in place.
func BatchNorm(x, weight, bias, runningMean, runningVar *Tensor, train bool, momentum, eps float64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_batch_norm(x.ptr(), optPtr(weight), optPtr(bias), optPtr(runningMean), optPtr(runningVar),
		cbool(train), C.double(momentum), C.double(eps), &out))
	return wrap(out)
}

// Softmax along dim.
func (t *Tensor) Softmax(dim int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_softmax(t.ptr(), C.int64_t(dim), &out))
	return wrap(out)
}

// LogSoftmax along dim.
func (t *Tensor) LogSoftmax(dim int64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_log_softmax(t.ptr(), C.int64_t(dim), &out))
	return wrap(out)
}

// CrossEntropy of logits [N, C] against int64 class targets [N].
func CrossEntropy(logits, target *Tensor, r Reduction, labelSmoothing float64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_cross_entropy(logits.ptr(), target.ptr(), C.int(r), C.double(labelSmoothing), &out))
	return wrap(out)
}

// NLLLoss of log-probabilities [N, C] against int64 class targets [N].
func NLLLoss(logp, target *Tensor, r Reduction) *Tensor {
	var out *C.rt_tensor
	check(C.rt_nll_loss(logp.ptr(), target.ptr(), C.int(r), &out))
	return wrap(out)
}

// Normalize divides by the p-norm along dim, floored at eps (F.normalize).
func Normalize(x *Tensor, p float64, dim int64, eps float64) *Tensor {
	var out *C.rt_tensor
	check(C.rt_normalize(x.ptr(), C.double(p), C.int64_t(dim), C.double(eps), &out))
	return wrap(out)
}

// InterpolateBilinear resizes NCHW x to h×w as F.interpolate(mode="bilinear").
func InterpolateBilinear(x *Tensor, h, w int64, alignCorners, antialias bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_interpolate_bilinear(x.ptr(), pair([2]int64{h, w}), cbool(alignCorners), cbool(antialias), &out))
	return wrap(out)
}

// AffineGrid is F.affine_grid: theta [N, 2, 3], size [N, C, H, W] → grid [N, H, W, 2].
func AffineGrid(theta *Tensor, size []int64, alignCorners bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_affine_grid(theta.ptr(), int64s(size), C.int(len(size)), cbool(alignCorners), &out))
	return wrap(out)
}

// GridMode and GridPadding select grid_sample's interpolation and border rule.
type GridMode int
type GridPadding int

const (
	GridBilinear GridMode = 0
	GridNearest  GridMode = 1

	PadZeros      GridPadding = 0
	PadBorder     GridPadding = 1
	PadReflection GridPadding = 2
)

// GridSample is F.grid_sample: samples x [N, C, H, W] at grid [N, Ho, Wo, 2]
// holding (x, y) in [-1, 1].
func GridSample(x, grid *Tensor, mode GridMode, padding GridPadding, alignCorners bool) *Tensor {
	var out *C.rt_tensor
	check(C.rt_grid_sample(x.ptr(), grid.ptr(), C.int(mode), C.int(padding), cbool(alignCorners), &out))
	return wrap(out)
}
