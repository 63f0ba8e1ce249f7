package torch

/*
#include "rt.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
)

// Tensor is a handle to a libtorch tensor. It is freed when the Scope it was
// created in closes, unless kept; Go's garbage collector never frees it.
type Tensor struct {
	h     *C.rt_tensor
	kept  bool
	freed bool
}

var (
	live   atomic.Int64
	mu     sync.Mutex
	scopes []*Scope // stack; the innermost scope owns new tensors
)

// Live returns the number of tensor handles not yet freed: a leak test runs
// steps and checks that it stays flat.
func Live() int { return int(live.Load()) }

// Scope owns the tensors created while it is the innermost open scope.
type Scope struct {
	owned  []*Tensor
	closed bool
}

// NewScope opens a scope; close it (defer s.Close()) at the end of a step.
// Scopes nest and must be closed in reverse order of opening.
func NewScope() *Scope {
	s := &Scope{}
	mu.Lock()
	scopes = append(scopes, s)
	mu.Unlock()
	return s
}

// Close frees every tensor created in the scope that was not kept or freed.
func (s *Scope) Close() {
	mu.Lock()
	if s.closed {
		mu.Unlock()
		return
	}
	s.closed = true
	if n := len(scopes); n > 0 && scopes[n-1] == s {
		scopes = scopes[:n-1]
	} else {
		for i, o := range scopes {
			if o == s {
				scopes = append(scopes[:i], scopes[i+1:]...)
				break
			}
		}
	}
	owned := s.owned
	s.owned = nil
	mu.Unlock()
	for _, t := range owned {
		if !t.kept {
			t.Free()
		}
	}
}

// WithScope runs f in a fresh scope and frees what f created but did not keep.
func WithScope(f func()) {
	s := NewScope()
	defer s.Close()
	f()
}

func wrap(h *C.rt_tensor) *Tensor {
	if h == nil {
		return nil
	}
	t := &Tensor{h: h}
	live.Add(1)
	mu.Lock()
	if n := len(scopes); n > 0 {
		s := scopes[n-1]
		s.owned = append(s.owned, t)
	}
	mu.Unlock()
	return t
}

// Keep makes t outlive its scope (parameters, optimiser state, buffers); it
// is then freed only by Free. Keep returns t for chaining.
func (t *Tensor) Keep() *Tensor {
	t.kept = true
	return t
}

// Free drops this handle now. Using t afterwards panics. Freeing twice is a
// no-op. Autograd graphs that still reference the tensor keep it alive.
func (t *Tensor) Free() {
	if t == nil || t.freed {
		return
	}
	t.freed = true
	C.rt_tensor_free(t.h)
	t.h = nil
	live.Add(-1)
}

// ptr returns the C handle, panicking with a clear message on misuse.
func (t *Tensor) ptr() *C.rt_tensor {
	must(t != nil, "nil tensor")
	must(!t.freed, "use of a freed tensor (was it created in a closed Scope and not kept?)")
	return t.h
}

// optPtr is ptr for optional arguments: nil maps to NULL.
func optPtr(t *Tensor) *C.rt_tensor {
	if t == nil {
		return nil
	}
	return t.ptr()
}

// handles returns the C handles of ts in Go memory, which cgo allows to
// pass: the slice holds C pointers only. nil entries map to NULL.
func handles(ts []*Tensor) []*C.rt_tensor {
	hs := make([]*C.rt_tensor, len(ts))
	for i, t := range ts {
		hs[i] = optPtr(t)
	}
	return hs
}

func handlesPtr(hs []*C.rt_tensor) **C.rt_tensor {
	if len(hs) == 0 {
		return nil
	}
	return &hs[0]
}
