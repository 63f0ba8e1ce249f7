package torch

/*
#include "rt.h"
*/
import "C"

import (
	"fmt"
	"math"
)

// ParamGroup is a set of parameters sharing a learning rate and weight decay,
// as a PyTorch param_group. Schedules change LR between steps.
type ParamGroup struct {
	Name        string
	Params      []*Tensor
	LR          float64
	WeightDecay float64
}

// Optimizer updates parameter groups from their grads. Its state is a set
// of named tensors (and step counts) that checkpoints save and restore
// exactly; names are "<group>.<index>.<kind>".
type Optimizer interface {
	Step()
	ZeroGrad()
	Groups() []*ParamGroup
	// State returns the optimiser's state tensors by name. Buffers belong to
	// the optimiser (do not free them); step counts are new tensors owned by
	// the current scope.
	State() map[string]*Tensor
	// LoadState copies saved state into the optimiser, creating it if needed;
	// every name must match this optimiser's parameters.
	LoadState(state map[string]*Tensor) error
	// Free releases the state tensors.
	Free()
}

func groupName(g *ParamGroup, i int) string {
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("group%d", i)
}

// zerosLike allocates optimiser state like PyTorch's
// zeros_like(p, memory_format=torch.preserve_format): a channels-last
// parameter gets channels-last state, so updates run on matching layouts.
// The state never records autograd history.
func zerosLike(p *Tensor) *Tensor {
	return ZerosLike(p).Keep()
}

// SGD is stochastic gradient descent with momentum, dampening, Nesterov and
// L2 weight decay, as torch.optim.SGD.
type SGD struct {
	groups    []*ParamGroup
	Momentum  float64
	Dampening float64
	Nesterov  bool
	bufs      [][]*Tensor
	init      [][]C.int
}

// NewSGD returns an SGD optimiser over groups.
func NewSGD(groups []*ParamGroup, momentum, dampening float64, nesterov bool) *SGD {
	return &SGD{groups: groups, Momentum: momentum, Dampening: dampening, Nesterov: nesterov}
}

func (o *SGD) Groups() []*ParamGroup { return o.groups }

func (o *SGD) ensure() {
	if o.bufs != nil || o.Momentum == 0 {
		return
	}
	o.bufs = make([][]*Tensor, len(o.groups))
	o.init = make([][]C.int, len(o.groups))
	for gi, g := range o.groups {
		o.bufs[gi] = make([]*Tensor, len(g.Params))
		o.init[gi] = make([]C.int, len(g.Params))
		for i, p := range g.Params {
			o.bufs[gi][i] = zerosLike(p)
		}
	}
}

// Step applies one update to every parameter that has a grad.
func (o *SGD) Step() {
	o.ensure()
	for gi, g := range o.groups {
		if len(g.Params) == 0 {
			continue
		}
		ps := handles(g.Params)
		var bufs []*C.rt_tensor
		var init *C.int
		if o.Momentum != 0 {
			bufs = handles(o.bufs[gi])
			init = &o.init[gi][0]
		} else {
			bufs = make([]*C.rt_tensor, len(ps))
			dummy := make([]C.int, len(ps)+1)
			init = &dummy[0]
		}
		check(C.rt_sgd_step(handlesPtr(ps), handlesPtr(bufs), init, C.int(len(ps)), C.double(g.LR),
			C.double(o.Momentum), C.double(o.Dampening), C.double(g.WeightDecay), cbool(o.Nesterov)))
	}
}

func (o *SGD) ZeroGrad() { zeroGroups(o.groups) }

func (o *SGD) State() map[string]*Tensor {
	st := map[string]*Tensor{}
	if o.bufs == nil {
		return st
	}
	for gi, g := range o.groups {
		for i := range g.Params {
			if o.init[gi][i] != 0 {
				st[fmt.Sprintf("%s.%d.momentum_buffer", groupName(g, gi), i)] = o.bufs[gi][i]
			}
		}
	}
	return st
}

func (o *SGD) LoadState(state map[string]*Tensor) error {
	if len(state) == 0 {
		return nil
	}
	if o.Momentum == 0 {
		return fmt.Errorf("optimizer state has %d momentum buffers but momentum is 0", len(state))
	}
	o.ensure()
	used := 0
	for gi, g := range o.groups {
		for i := range g.Params {
			if t, ok := state[fmt.Sprintf("%s.%d.momentum_buffer", groupName(g, gi), i)]; ok {
				if err := copyState(o.bufs[gi][i], t); err != nil {
					return fmt.Errorf("%s.%d.momentum_buffer: %w", groupName(g, gi), i, err)
				}
				o.init[gi][i] = 1
				used++
			}
		}
	}
	if used != len(state) {
		return fmt.Errorf("optimizer state has %d entries, %d match this model's parameters", len(state), used)
	}
	return nil
}

func (o *SGD) Free() {
	for _, bs := range o.bufs {
		for _, b := range bs {
			b.Free()
		}
	}
	o.bufs, o.init = nil, nil
}

// Adam is torch.optim.Adam, or torch.optim.AdamW with Decoupled set.
type Adam struct {
	groups       []*ParamGroup
	Beta1, Beta2 float64
	Eps          float64
	Decoupled    bool
	AMSGrad      bool
	m, v, vmax   [][]*Tensor
	steps        [][]int64
}

// NewAdam returns Adam (decoupled=false) or AdamW (decoupled=true).
func NewAdam(groups []*ParamGroup, beta1, beta2, eps float64, decoupled, amsgrad bool) *Adam {
	return &Adam{groups: groups, Beta1: beta1, Beta2: beta2, Eps: eps, Decoupled: decoupled, AMSGrad: amsgrad}
}

func (o *Adam) Groups() []*ParamGroup { return o.groups }

func (o *Adam) ensure() {
	if o.m != nil {
		return
	}
	n := len(o.groups)
	o.m, o.v, o.vmax, o.steps = make([][]*Tensor, n), make([][]*Tensor, n), make([][]*Tensor, n), make([][]int64, n)
	for gi, g := range o.groups {
		k := len(g.Params)
		o.m[gi], o.v[gi], o.vmax[gi], o.steps[gi] = make([]*Tensor, k), make([]*Tensor, k), make([]*Tensor, k), make([]int64, k)
		for i, p := range g.Params {
			o.m[gi][i] = zerosLike(p)
			o.v[gi][i] = zerosLike(p)
			if o.AMSGrad {
				o.vmax[gi][i] = zerosLike(p)
			}
		}
	}
}

func (o *Adam) Step() {
	o.ensure()
	for gi, g := range o.groups {
		if len(g.Params) == 0 {
			continue
		}
		ps, m, v, vm := handles(g.Params), handles(o.m[gi]), handles(o.v[gi]), handles(o.vmax[gi])
		check(C.rt_adam_step(handlesPtr(ps), handlesPtr(m), handlesPtr(v), handlesPtr(vm),
			(*C.int64_t)(&o.steps[gi][0]), C.int(len(ps)), C.double(g.LR), C.double(o.Beta1), C.double(o.Beta2),
			C.double(o.Eps), C.double(g.WeightDecay), cbool(o.Decoupled), cbool(o.AMSGrad)))
	}
}

func (o *Adam) ZeroGrad() { zeroGroups(o.groups) }

func (o *Adam) State() map[string]*Tensor {
	st := map[string]*Tensor{}
	if o.m == nil {
		return st
	}
	for gi, g := range o.groups {
		for i := range g.Params {
			if o.steps[gi][i] == 0 {
				continue
			}
			key := fmt.Sprintf("%s.%d.", groupName(g, gi), i)
			st[key+"exp_avg"] = o.m[gi][i]
			st[key+"exp_avg_sq"] = o.v[gi][i]
			if o.AMSGrad {
				st[key+"max_exp_avg_sq"] = o.vmax[gi][i]
			}
			st[key+"step"] = FromSlice([]int64{o.steps[gi][i]})
		}
	}
	return st
}

func (o *Adam) LoadState(state map[string]*Tensor) error {
	o.ensure()
	used := 0
	for gi, g := range o.groups {
		for i := range g.Params {
			key := fmt.Sprintf("%s.%d.", groupName(g, gi), i)
			st, ok := state[key+"step"]
			if !ok {
				continue
			}
			o.steps[gi][i] = int64(st.Item())
			used++
			kinds := []string{"exp_avg", "exp_avg_sq"}
			dst := []*Tensor{o.m[gi][i], o.v[gi][i]}
			if o.AMSGrad {
				kinds = append(kinds, "max_exp_avg_sq")
				dst = append(dst, o.vmax[gi][i])
			}
			for k, kind := range kinds {
				t, ok := state[key+kind]
				if !ok {
					return fmt.Errorf("optimizer state: missing %s%s", key, kind)
				}
				if err := copyState(dst[k], t); err != nil {
					return fmt.Errorf("optimizer state %s%s: %w", key, kind, err)
				}
				used++
			}
		}
	}
	if used != len(state) {
		return fmt.Errorf("optimizer state has %d entries, %d match this model's parameters (another model or optimizer?)", len(state), used)
	}
	return nil
}

func (o *Adam) Free() {
	for _, set := range [][][]*Tensor{o.m, o.v, o.vmax} {
		for _, ts := range set {
			for _, t := range ts {
				t.Free()
			}
		}
	}
	o.m, o.v, o.vmax, o.steps = nil, nil, nil, nil
}

func copyState(dst, src *Tensor) error {
	ds, ss := dst.Shape(), src.Shape()
	if fmt.Sprint(ds) != fmt.Sprint(ss) {
		return fmt.Errorf("shape %v, parameter has %v", ss, ds)
	}
	return Try(func() { dst.CopyFrom(src) })
}

func zeroGroups(groups []*ParamGroup) {
	for _, g := range groups {
		ZeroGrad(g.Params, true)
	}
}

// ClipGradNorm scales the grads of params so their global L2 norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_, and returns the norm before clipping.
func ClipGradNorm(params []*Tensor, maxNorm float64) float64 {
	hs := handles(params)
	var sq C.double
	check(C.rt_grad_norm_sq(handlesPtr(hs), C.int(len(hs)), &sq))
	norm := math.Sqrt(float64(sq))
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		check(C.rt_scale_grads(handlesPtr(hs), C.int(len(hs)), C.double(coef)))
	}
	return norm
}
