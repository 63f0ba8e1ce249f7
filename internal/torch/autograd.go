package torch

/*
#include "rt.h"
*/
import "C"

import "runtime"

// SetRequiresGrad marks a leaf tensor as a parameter autograd tracks; returns t.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	check(C.rt_set_requires_grad(t.ptr(), cbool(on)))
	return t
}

// RequiresGrad reports whether autograd tracks t.
func (t *Tensor) RequiresGrad() bool {
	var on C.int
	check(C.rt_requires_grad(t.ptr(), &on))
	return on != 0
}

// Backward accumulates d(t)/d(leaf) into every leaf's grad; t must be a scalar.
func (t *Tensor) Backward() { check(C.rt_backward(t.ptr(), nil, 0)) }

// BackwardWith back-propagates grad (t's shape) from a non-scalar t.
func (t *Tensor) BackwardWith(grad *Tensor, retainGraph bool) {
	check(C.rt_backward(t.ptr(), optPtr(grad), cbool(retainGraph)))
}

// Grad returns t's accumulated gradient, or nil when it has none.
func (t *Tensor) Grad() *Tensor {
	var out *C.rt_tensor
	check(C.rt_grad(t.ptr(), &out))
	return wrap(out)
}

// Detach returns a tensor sharing t's data, cut from the graph.
func (t *Tensor) Detach() *Tensor {
	var out *C.rt_tensor
	check(C.rt_detach(t.ptr(), &out))
	return wrap(out)
}

// ZeroGrad clears the grads of ts (setToNone frees them, as PyTorch's default).
func ZeroGrad(ts []*Tensor, setToNone bool) {
	hs := handles(ts)
	check(C.rt_zero_grad(handlesPtr(hs), C.int(len(hs)), cbool(setToNone)))
}

// NoGrad runs f with autograd recording off on this OS thread.
func NoGrad(f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := C.rt_grad_enabled()
	C.rt_set_grad_enabled(0)
	defer C.rt_set_grad_enabled(prev)
	f()
}

// GradEnabled reports whether autograd records on this OS thread.
func GradEnabled() bool { return C.rt_grad_enabled() != 0 }
