// Package nn holds the layers RA-CNN is built from (Conv2d, Linear,
// BatchNorm2d) and Store, the named parameter set whose keys follow
// PyTorch's state_dict naming, so torchvision weights load by name.
//
// Parameters are created on the CPU from libtorch's seeded generator (the same
// initial weights on every device), moved to the target device once, and kept
// (they outlive every step). Weights are loaded by copying into them in place.
package nn

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/racnn/racnn/internal/torch"
)

// Entry is one named tensor of a Store.
type Entry struct {
	Name   string
	T      *torch.Tensor
	Buffer bool // running statistics and counters: saved, never optimised
	group  *Group
}

// Group is the group e was registered in (Store.Group), nil if none.
func (e *Entry) Group() *Group { return e.group }

// Store is an ordered set of named parameters and buffers.
type Store struct {
	Device  torch.Device
	entries []*Entry
	byName  map[string]*Entry
	open    *Group // the group being built (Store.Group), if any
}

// NewStore returns an empty store whose tensors live on device d.
func NewStore(d torch.Device) *Store {
	if d == "" {
		d = torch.CPU
	}
	return &Store{Device: d, byName: map[string]*Entry{}}
}

func (s *Store) add(name string, cpu *torch.Tensor, buffer bool) *torch.Tensor {
	if _, dup := s.byName[name]; dup {
		panic(fmt.Sprintf("nn: parameter %q registered twice", name))
	}
	if g := s.open; g != nil && !strings.HasPrefix(name, g.Name+".") {
		panic(fmt.Sprintf("nn: %q registered in group %q, outside its names", name, g.Name))
	}
	var t *torch.Tensor
	torch.WithScope(func() {
		t = cpu.To(s.Device).Contiguous().Detach().Clone().Keep()
	})
	if !buffer {
		t.SetRequiresGrad(true)
	}
	e := &Entry{Name: name, T: t, Buffer: buffer}
	s.open.join(e)
	s.entries = append(s.entries, e)
	s.byName[name] = e
	return t
}

// Param registers a trainable tensor initialised from cpu (which is not
// consumed) under name and returns the store's copy.
func (s *Store) Param(name string, cpu *torch.Tensor) *torch.Tensor { return s.add(name, cpu, false) }

// Buffer registers a non-trainable tensor (e.g. BatchNorm running stats).
func (s *Store) Buffer(name string, cpu *torch.Tensor) *torch.Tensor { return s.add(name, cpu, true) }

// Entries returns all entries in registration order.
func (s *Store) Entries() []*Entry { return s.entries }

// Get returns the tensor registered under name, or nil.
func (s *Store) Get(name string) *torch.Tensor {
	if e, ok := s.byName[name]; ok {
		return e.T
	}
	return nil
}

// Names returns the registered names in registration order.
func (s *Store) Names() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.Name
	}
	return out
}

// Params returns every parameter (no buffer) in registration order.
func (s *Store) Params() []*torch.Tensor {
	var out []*torch.Tensor
	for _, e := range s.entries {
		if !e.Buffer {
			out = append(out, e.T)
		}
	}
	return out
}

// SetTrainable turns gradient tracking on for the parameters of groups and
// off for every other (frozen parameters cost no backward compute).
func (s *Store) SetTrainable(groups ...*Group) {
	for _, g := range groups {
		if g.store != s {
			panic(fmt.Sprintf("nn: group %q belongs to another store", g.Name))
		}
	}
	for _, e := range s.entries {
		if !e.Buffer {
			e.T.SetRequiresGrad(slices.Contains(groups, e.group))
		}
	}
}

// Shapes maps every name to its shape.
func (s *Store) Shapes() map[string][]int64 {
	out := make(map[string][]int64, len(s.entries))
	for _, e := range s.entries {
		out[e.Name] = e.T.Shape()
	}
	return out
}

// Load copies values into the named tensors in place. Every key must exist
// with the same shape; with strict, every entry of the store must be given.
func (s *Store) Load(values map[string]*torch.Tensor, strict bool) error {
	var missing, unexpected, mismatched []string
	for name, v := range values {
		e, ok := s.byName[name]
		if !ok {
			unexpected = append(unexpected, name)
			continue
		}
		if got, want := v.Shape(), e.T.Shape(); fmt.Sprint(got) != fmt.Sprint(want) {
			mismatched = append(mismatched, fmt.Sprintf("%s (file %v, model %v)", name, got, want))
		}
	}
	if strict {
		for _, e := range s.entries {
			if _, ok := values[e.Name]; !ok {
				missing = append(missing, e.Name)
			}
		}
	}
	if err := keyError(missing, unexpected, mismatched); err != nil {
		return err
	}
	return torch.Try(func() {
		for name, v := range values {
			s.byName[name].T.CopyFrom(v)
		}
	})
}

func keyError(missing, unexpected, mismatched []string) error {
	var parts []string
	for _, l := range []struct {
		what  string
		names []string
	}{{"missing", missing}, {"unexpected", unexpected}, {"mis-shaped", mismatched}} {
		if len(l.names) == 0 {
			continue
		}
		sort.Strings(l.names)
		shown := l.names
		if len(shown) > 4 {
			shown = append(shown[:4:4], fmt.Sprintf("… %d more", len(l.names)-4))
		}
		parts = append(parts, fmt.Sprintf("%s keys: %s", l.what, strings.Join(shown, ", ")))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// Free releases every tensor of the store.
func (s *Store) Free() {
	for _, e := range s.entries {
		e.T.Free()
	}
	s.entries, s.byName = nil, map[string]*Entry{}
}

// Init draws initial weights on the CPU from libtorch's seeded generator.
type Init func(shape []int64) *torch.Tensor

// KaimingNormalFanOut is torchvision VGG's conv init:
// kaiming_normal_(mode="fan_out", nonlinearity="relu").
func KaimingNormalFanOut(shape []int64) *torch.Tensor {
	fanOut := shape[0]
	for _, d := range shape[2:] {
		fanOut *= d
	}
	return torch.Randn(shape).MulScalar(math.Sqrt(2 / float64(fanOut)))
}

// Normal returns an init drawing from N(0, std²) (torchvision VGG's linear
// layers use std 0.01).
func Normal(std float64) Init {
	return func(shape []int64) *torch.Tensor { return torch.Randn(shape).MulScalar(std) }
}

// UniformFanIn is PyTorch's default for Linear and Conv2d weights and biases:
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in from the weight's shape.
func UniformFanIn(fanIn int64) Init {
	b := 1 / math.Sqrt(float64(fanIn))
	return func(shape []int64) *torch.Tensor { return torch.Rand(shape).MulScalar(2 * b).SubScalar(b) }
}

// Zeros and Ones are constant inits.
func Zeros(shape []int64) *torch.Tensor { return torch.Zeros(shape) }
func Ones(shape []int64) *torch.Tensor  { return torch.Ones(shape) }

func fanIn(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape[1:] {
		n *= d
	}
	return n
}

func create(s *Store, name string, shape []int64, init Init, buffer bool) *torch.Tensor {
	var t *torch.Tensor
	torch.WithScope(func() { t = s.add(name, init(shape), buffer) })
	return t
}

// Linear is y = x·Wᵀ + b with W [out, in] ("<prefix>.weight", "<prefix>.bias").
type Linear struct {
	W, B *torch.Tensor
}

// NewLinear registers a linear layer; nil inits mean PyTorch's defaults.
func NewLinear(s *Store, prefix string, in, out int64, bias bool, wInit, bInit Init) *Linear {
	if wInit == nil {
		wInit = UniformFanIn(in)
	}
	if bInit == nil {
		bInit = UniformFanIn(in)
	}
	l := &Linear{W: create(s, prefix+".weight", []int64{out, in}, wInit, false)}
	if bias {
		l.B = create(s, prefix+".bias", []int64{out}, bInit, false)
	}
	return l
}

func (l *Linear) Forward(x *torch.Tensor) *torch.Tensor { return torch.Linear(x, l.W, l.B) }

// Conv2d is a 2-D convolution with W [out, in, k, k].
type Conv2d struct {
	W, B *torch.Tensor
	Opts torch.Conv2dOpts
}

// NewConv2d registers a k×k convolution; nil inits mean PyTorch's defaults.
func NewConv2d(s *Store, prefix string, in, out, k int64, opts torch.Conv2dOpts, bias bool, wInit, bInit Init) *Conv2d {
	shape := []int64{out, in, k, k}
	if wInit == nil {
		wInit = UniformFanIn(fanIn(shape))
	}
	if bInit == nil {
		bInit = UniformFanIn(fanIn(shape))
	}
	c := &Conv2d{W: create(s, prefix+".weight", shape, wInit, false), Opts: opts}
	if bias {
		c.B = create(s, prefix+".bias", []int64{out}, bInit, false)
	}
	return c
}

func (c *Conv2d) Forward(x *torch.Tensor) *torch.Tensor { return torch.Conv2d(x, c.W, c.B, c.Opts) }

// BatchNorm2d has PyTorch's parameters and buffers: weight, bias,
// running_mean, running_var, num_batches_tracked.
type BatchNorm2d struct {
	W, B, Mean, Var, Count *torch.Tensor
	Momentum, Eps          float64
	// Frozen normalises by the running statistics whatever Forward's train
	// says, and W and B are buffers: saved and loaded under the same names,
	// never optimised (torchvision's FrozenBatchNorm2d).
	Frozen bool
}

// NewBatchNorm2d registers batch norm over c channels (momentum 0.1, eps 1e-5).
func NewBatchNorm2d(s *Store, prefix string, c int64) *BatchNorm2d {
	return &BatchNorm2d{
		W:        create(s, prefix+".weight", []int64{c}, Ones, false),
		B:        create(s, prefix+".bias", []int64{c}, Zeros, false),
		Mean:     create(s, prefix+".running_mean", []int64{c}, Zeros, true),
		Var:      create(s, prefix+".running_var", []int64{c}, Ones, true),
		Count:    create(s, prefix+".num_batches_tracked", nil, func([]int64) *torch.Tensor { return torch.Zeros(nil, torch.WithDType(torch.Int64)) }, true),
		Momentum: 0.1,
		Eps:      1e-5,
	}
}

// NewFrozenBatchNorm2d registers a frozen batch norm over c channels: the
// same names as NewBatchNorm2d's, its weight and bias as buffers.
func NewFrozenBatchNorm2d(s *Store, prefix string, c int64) *BatchNorm2d {
	return &BatchNorm2d{
		W:        create(s, prefix+".weight", []int64{c}, Ones, true),
		B:        create(s, prefix+".bias", []int64{c}, Zeros, true),
		Mean:     create(s, prefix+".running_mean", []int64{c}, Zeros, true),
		Var:      create(s, prefix+".running_var", []int64{c}, Ones, true),
		Count:    create(s, prefix+".num_batches_tracked", nil, func([]int64) *torch.Tensor { return torch.Zeros(nil, torch.WithDType(torch.Int64)) }, true),
		Momentum: 0.1,
		Eps:      1e-5,
		Frozen:   true,
	}
}

// Forward normalises by batch statistics in training (updating the running
// ones) and by the running statistics otherwise or when frozen.
func (b *BatchNorm2d) Forward(x *torch.Tensor, train bool) *torch.Tensor {
	train = train && !b.Frozen
	if train {
		b.Count.Fill(b.Count.Item() + 1)
	}
	return torch.BatchNorm(x, b.W, b.B, b.Mean, b.Var, train, b.Momentum, b.Eps)
}
