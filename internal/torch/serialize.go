package torch

/*
#include <stdlib.h>
#include "rt.h"
*/
import "C"

import (
	"fmt"
	"sort"
	"unsafe"
)

// SaveTensors writes ts to path as a dict {name: tensor} in libtorch's own
// format (torch::pickle_save, the zip format of torch.save): Python reads it
// with torch.load(path). Tensors are saved detached, names in sorted order.
// Handy for checkpoints' raw parts and for debugging dumps.
func SaveTensors(path string, ts map[string]*Tensor) error {
	names := make([]string, 0, len(ts))
	for k := range ts {
		names = append(names, k)
	}
	sort.Strings(names)
	err := Try(func() {
		cnames := make([]*C.char, len(names))
		for i, n := range names {
			cnames[i] = C.CString(n)
		}
		defer func() {
			for _, p := range cnames {
				C.free(unsafe.Pointer(p))
			}
		}()
		list := make([]*Tensor, len(names))
		for i, n := range names {
			must(ts[n] != nil, "tensor %q is nil", n)
			list[i] = ts[n]
		}
		hs := handles(list)
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		var np **C.char
		if len(cnames) > 0 {
			np = &cnames[0]
		}
		check(C.rt_save_tensors(cpath, np, handlesPtr(hs), C.int(len(hs))))
	})
	if err != nil {
		return fmt.Errorf("save tensors to %s: %w", path, err)
	}
	return nil
}

// LoadTensors reads a dict of named tensors written by SaveTensors or by
// Python's torch.save({name: tensor, ...}). The tensors belong to the
// current scope, like any new tensor (Keep what must outlive it). A missing
// or corrupt file returns libtorch's message, prefixed with the path.
func LoadTensors(path string) (map[string]*Tensor, error) {
	var out map[string]*Tensor
	err := Try(func() {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		var names **C.char
		var ts **C.rt_tensor
		var n C.int
		check(C.rt_load_tensors(cpath, &names, &ts, &n))
		defer C.rt_free(unsafe.Pointer(names))
		defer C.rt_free(unsafe.Pointer(ts))
		ns := unsafe.Slice(names, int(n))
		hs := unsafe.Slice(ts, int(n))
		out = make(map[string]*Tensor, int(n))
		for i := range ns {
			out[C.GoString(ns[i])] = wrap(hs[i])
			C.rt_free_string(ns[i])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load tensors from %s: %w", path, err)
	}
	return out, nil
}
