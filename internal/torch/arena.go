package torch

/*
#include "rt.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Tensor is a handle to a libtorch tensor. It is freed when the Scope it was
// created in closes, unless kept; Go's garbage collector never frees it.
type Tensor struct {
	h     *C.rt_tensor
	kept  bool
	freed bool
}

// Scopes belong to the OS thread that opens them, as libtorch's grad mode
// and autocast state do: each thread has its own stack, and a new tensor
// goes to the innermost scope open on the thread whose call made it (the
// shim stamps that thread's number into the handle, so this costs no extra
// call into C). Two workers, each a goroutine locked to its thread, thus
// never free each other's tensors, and model code calls ops without passing
// a context: ops run thousands of times per step, and a context argument on
// every one (ollama's ml.Context) would add noise to all model code for what
// a thread already identifies. NewScope locks its goroutine to the thread
// until Close, so a scope cannot lose its goroutine to another thread.
var (
	live   atomic.Int64
	open   atomic.Int64 // scopes open on all threads: wrap skips the lookup at 0
	mu     sync.Mutex
	stacks = map[uint64][]*Scope{} // per rt_thread_id; the innermost scope is last
)

// Live returns the number of tensor handles not yet freed: a leak test runs
// steps and checks that it stays flat.
func Live() int { return int(live.Load()) }

// Scope owns the tensors created on its thread while it is that thread's
// innermost open scope.
type Scope struct {
	thread uint64
	owned  []*Tensor
	closed bool
}

// NewScope opens a scope on this OS thread; close it (defer s.Close()) at
// the end of a step, on the same goroutine. It locks the goroutine to its
// thread until Close. Scopes nest and are closed in reverse order of opening.
func NewScope() *Scope {
	runtime.LockOSThread()
	s := &Scope{thread: threadID()}
	mu.Lock()
	stacks[s.thread] = append(stacks[s.thread], s)
	mu.Unlock()
	open.Add(1)
	return s
}

// Close frees every tensor created in the scope that was not kept or freed.
func (s *Scope) Close() {
	mu.Lock()
	if s.closed {
		mu.Unlock()
		return
	}
	if threadID() != s.thread {
		mu.Unlock()
		panic("torch: Scope closed on another OS thread than the one that opened it (close it on the goroutine that called NewScope)")
	}
	s.closed = true
	st := stacks[s.thread]
	for i := len(st) - 1; i >= 0; i-- {
		if st[i] == s {
			st = append(st[:i], st[i+1:]...)
			break
		}
	}
	if len(st) == 0 {
		delete(stacks, s.thread)
	} else {
		stacks[s.thread] = st
	}
	owned := s.owned
	s.owned = nil
	mu.Unlock()
	open.Add(-1)
	for _, t := range owned {
		if !t.kept {
			t.Free()
		}
	}
	runtime.UnlockOSThread()
}

// WithScope runs f in a fresh scope and frees what f created but did not keep.
func WithScope(f func()) {
	s := NewScope()
	defer s.Close()
	f()
}

// threadID is the shim's number for the calling OS thread.
func threadID() uint64 { return uint64(C.rt_thread_id()) }

// adopt gives t to the innermost scope open on thread, if any, and reports
// whether one took it.
func adopt(t *Tensor, thread uint64) bool {
	mu.Lock()
	defer mu.Unlock()
	st := stacks[thread]
	if len(st) == 0 {
		return false
	}
	s := st[len(st)-1]
	s.owned = append(s.owned, t)
	return true
}

func wrap(h *C.rt_tensor) *Tensor {
	if h == nil {
		return nil
	}
	t := &Tensor{h: h}
	live.Add(1)
	if open.Load() > 0 {
		adopt(t, uint64((*C.rt_tensor_head)(unsafe.Pointer(h)).thread))
	}
	return t
}

// Keep makes t outlive its scope (parameters, optimiser state, buffers); it
// is then freed only by Free or Release. Keep returns t for chaining.
func (t *Tensor) Keep() *Tensor {
	t.kept = true
	return t
}

// Release undoes Keep: t goes to the innermost scope open on this thread,
// which frees it when it closes, or is freed now if none is open. Use it
// for a kept tensor whose last reader is the current step (a checkpoint's
// tensors once copied into the model, a replaced buffer).
func (t *Tensor) Release() {
	if t == nil || t.freed {
		return
	}
	t.kept = false
	if !adopt(t, threadID()) {
		t.Free()
	}
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
