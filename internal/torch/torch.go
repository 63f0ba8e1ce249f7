// Package torch is racnn's binding to libtorch: tensors, ops, autograd,
// optimisers and devices, through the C ABI in csrc/ (libracnn_torch.so).
// It is the only package that imports "C".
//
// Errors: ops panic with a *Error carrying libtorch's message; racnn's own
// checks inside model code panic through Fail with their own error; entry
// points (a training step, load/save, device set-up) turn both into an
// error with Try.
//
// Lifetimes: every tensor belongs to the innermost Scope open on the OS
// thread that made it (or to no scope, if none is open there) and is freed
// when that scope closes, unless it was kept with Keep (Release undoes
// Keep). Only Go values leave a step. Live counts the handles.
//
// Threads: libtorch keeps grad mode and its intra-op thread settings per OS
// thread, and scopes are per thread too. Run each worker's tensor code on
// one goroutine locked to its thread (see OnThread); data loaders hand over
// Go slices, never tensors.
package torch

/*
#cgo CFLAGS: -I${SRCDIR}/csrc
#cgo LDFLAGS: -L${SRCDIR}/../../build/shim -lracnn_torch -Wl,-rpath,${SRCDIR}/../../build/shim -Wl,-rpath,$ORIGIN/../lib
#include <stdlib.h>
#include "rt.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Error is a failure reported by libtorch (or by the shim's own checks).
type Error struct {
	Msg string
}

func (e *Error) Error() string { return "torch: " + e.Msg }

// check turns a shim error string into a panic with *Error, freeing it.
func check(msg *C.char) {
	if msg == nil {
		return
	}
	s := C.GoString(msg)
	C.rt_free_string(msg)
	panic(&Error{Msg: s})
}

// Fail panics with err so that Try returns err itself. Packages above the
// binding (model, apn) fail their own checks inside model code through it:
// their message keeps its origin instead of reading as libtorch's.
func Fail(err error) { panic(failure{err}) }

// failure carries a Fail error through a panic.
type failure struct{ err error }

// Try runs f and returns, as an error, a *Error or a Fail error that f
// panicked with. Other panics (bugs) propagate.
func Try(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case *Error:
				err = e
			case failure:
				err = e.err
			default:
				panic(r)
			}
		}
	}()
	f()
	return nil
}

// IsError reports whether err is (or wraps) a libtorch error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// OnThread runs f on a goroutine locked to one OS thread, with libtorch's
// intra-op thread count set on that thread (threads <= 0 keeps libtorch's
// default), and returns its error; a *Error panic becomes an error.
func OnThread(threads int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var ferr error
		err := Try(func() {
			SetNumThreads(threads)
			ferr = f()
		})
		if err == nil {
			err = ferr
		}
		done <- err
	}()
	return <-done
}

// cstr returns a C string for s, freed by the returned func; "" maps to NULL.
func cstr(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	p := C.CString(s)
	return p, func() { C.free(unsafe.Pointer(p)) }
}

func int64s(v []int64) *C.int64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func must(cond bool, format string, args ...any) {
	if !cond {
		panic(&Error{Msg: fmt.Sprintf(format, args...)})
	}
}
