package torch

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// noBacktrace fails if a message carries libtorch's C++ backtrace.
func noBacktrace(t *testing.T, err error) {
	t.Helper()
	if s := err.Error(); strings.Contains(s, "frame #") || strings.Contains(s, "Exception raised from") {
		t.Errorf("error carries a C++ backtrace: %v", err)
	}
}

func TestErrorPaths(t *testing.T) {
	WithScope(func() {
		x := Ones([]int64{1, 3, 8, 8}, OnDevice(testDev))
		w := Ones([]int64{4, 2, 3, 3}, OnDevice(testDev))
		for _, c := range []struct {
			name string
			f    func()
			want []string // fragments of libtorch's message
		}{
			{"conv2d channel mismatch", func() { Conv2d(x, w, nil, Conv2dOpts{}) },
				[]string{"expected input[1, 3, 8, 8] to have 2 channels, but got 3 channels instead"}},
			{"broadcast mismatch", func() { x.Add(Ones([]int64{5}, OnDevice(testDev))) },
				[]string{"must match the size of tensor b (5) at non-singleton dimension 3"}},
			{"reshape", func() { x.Reshape(5, -1) }, []string{"shape '[5, -1]' is invalid for input of size 192"}},
			{"backward without grad", func() { x.Sum().Backward() },
				[]string{"element 0 of tensors does not require grad and does not have a grad_fn", "racnn: no parameter"}},
			{"backward twice", func() {
				p := Ones([]int64{3}, OnDevice(testDev)).SetRequiresGrad(true)
				l := p.Exp().Sum()
				l.Backward()
				l.Backward()
			}, []string{"Trying to backward through the graph a second time"}},
			{"in-place change of a saved tensor", func() {
				p := Ones([]int64{3}, OnDevice(testDev)).SetRequiresGrad(true)
				s := p.Sigmoid() // sigmoid's backward needs its output
				l := s.Sum()
				s.MulScalarInPlace(2)
				l.Backward()
			}, []string{"modified by an inplace operation"}},
			{"cross entropy target out of range", func() {
				CrossEntropy(Ones([]int64{2, 3}), FromSlice([]int64{0, 7}, 2), ReduceMean, 0)
			}, []string{"out of bounds"}},
			{"unknown device in a factory", func() { Zeros([]int64{2}, OnDevice("tpu")) },
				[]string{"Expected one of cpu, cuda", "device type at start of device string: tpu"}},
			{"item of many", func() { x.Item() }, []string{"a Tensor with 192 elements cannot be converted to Scalar"}},
		} {
			err := Try(c.f)
			if err == nil {
				t.Errorf("%s: no error", c.name)
				continue
			}
			if !IsError(err) {
				t.Errorf("%s: %T is not a *torch.Error", c.name, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q lacks %q", c.name, err, w)
				}
			}
			noBacktrace(t, err)
		}
		// The process goes on: ops and autograd still work.
		p := FromSlice([]float64{1, 2}, 2).SetRequiresGrad(true)
		p.Square().Sum().Backward()
		if g := p.Grad().Float64s(); !reflect.DeepEqual(g, []float64{2, 4}) {
			t.Fatalf("after errors: grad %v", g)
		}
	})
}

func TestDeviceErrors(t *testing.T) {
	for _, name := range []string{"tpu:3", "cuda:x", "gpu"} {
		_, err := ParseDevice(name)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "Expected one of cpu, cuda") && !strings.Contains(err.Error(), "Invalid device string") {
			t.Errorf("ParseDevice(%q): %v", name, err)
		}
	}
	if !CUDAAvailable() {
		_, err := ParseDevice("cuda")
		if err == nil || !strings.Contains(err.Error(), "no CUDA") {
			t.Errorf("ParseDevice(cuda) without CUDA: %v", err)
		}
		err = Try(func() { WithScope(func() { Zeros([]int64{2}, OnDevice(CUDA)) }) })
		if err == nil || !IsError(err) {
			t.Errorf("a CUDA tensor without CUDA: %v", err)
		}
		noBacktrace(t, err)
		t.Logf("CUDA tensor on a CPU build: %v", err)
	} else if _, err := ParseDevice("cuda:99"); err == nil || !strings.Contains(err.Error(), "CUDA device(s)") {
		t.Errorf("ParseDevice(cuda:99): %v", err)
	}
	for _, d := range []string{"", "cpu"} {
		if _, err := ParseDevice(d); err != nil {
			t.Errorf("ParseDevice(%q): %v", d, err)
		}
	}
}

func TestSaveLoadTensors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.pt")
	WithScope(func() {
		in := map[string]*Tensor{
			"conv.weight": FromSlice([]float32{1, 2, 3, 4, 5, 6}, 1, 2, 3).To(testDev),
			"step":        FromSlice([]int64{42}),
			"mask":        FromSlice([]bool{true, false}, 2),
			"grad":        FromSlice([]float64{0.5}).SetRequiresGrad(true).MulScalar(3), // saved detached
		}
		if err := SaveTensors(path, in); err != nil {
			t.Fatal(err)
		}
		base := Live()
		out, err := LoadTensors(path)
		if err != nil {
			t.Fatal(err)
		}
		if Live() != base+len(in) {
			t.Errorf("live %d after loading %d tensors, want %d", Live(), len(in), base+len(in))
		}
		if len(out) != len(in) {
			t.Fatalf("loaded %d tensors, saved %d", len(out), len(in))
		}
		for k, v := range in {
			o := out[k]
			if o == nil {
				t.Fatalf("%s missing", k)
			}
			if !reflect.DeepEqual(o.Shape(), v.Shape()) || o.DType() != v.DType() || o.Device() != v.Device() ||
				!reflect.DeepEqual(o.Float64s(), v.Float64s()) {
				t.Errorf("%s: got %v %v %v, saved %v %v %v", k, o.Shape(), o.DType(), o.Float64s(), v.Shape(), v.DType(), v.Float64s())
			}
			if o.RequiresGrad() {
				t.Errorf("%s: loaded requiring grad", k)
			}
		}
	})

	// A dict written by Python's torch.save (scripts/golden_binding.py).
	WithScope(func() {
		out, err := LoadTensors("testdata/torch_save_dict.pt")
		if err != nil {
			t.Fatal(err)
		}
		if got := out["a"].Float32s(); !reflect.DeepEqual(got, []float32{0, 1, 2, 3, 4, 5}) || !reflect.DeepEqual(out["a"].Shape(), []int64{2, 3}) {
			t.Errorf("a = %v %v", out["a"].Shape(), got)
		}
		if got := out["b"].Int64s(); !reflect.DeepEqual(got, []int64{7, -1}) {
			t.Errorf("b = %v", got)
		}
	})

	// Missing, corrupt, not a dict of tensors, unwritable: errors that name
	// the path and carry libtorch's message, and the process goes on.
	missing := filepath.Join(dir, "nope", "missing.pt")
	corrupt := filepath.Join(dir, "corrupt.pt")
	if err := os.WriteFile(corrupt, []byte("this is not a zip archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pt")
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := Live()
	for _, c := range []struct{ path, want string }{
		{missing, "errno 2 on fopen"},
		{missing, "No such file or directory"},
		{dir, "is a directory"},
		{corrupt, "PytorchStreamReader failed"},
		{truncated, "PytorchStreamReader failed"},
		{empty, "PytorchStreamReader failed"},
	} {
		m, err := LoadTensors(c.path)
		if err == nil || m != nil {
			t.Errorf("LoadTensors(%s): %v, %v", c.path, m, err)
			continue
		}
		if !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) || !IsError(err) {
			t.Errorf("LoadTensors(%s): %q lacks the path or %q", filepath.Base(c.path), err, c.want)
		}
		noBacktrace(t, err)
		t.Logf("%s: %v", filepath.Base(c.path), err)
	}
	if Live() != base {
		t.Errorf("failed loads left %d handles", Live()-base)
	}
	WithScope(func() {
		err := SaveTensors(missing, map[string]*Tensor{"a": Ones([]int64{1})})
		if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "No such file or directory") {
			t.Errorf("SaveTensors into a missing dir: %v", err)
		}
	})
}
