package nn

import (
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

// A group holds what its build registered, under the names it would have
// without groups; freezing and copying select whole groups.
func TestGroups(t *testing.T) {
	torch.ManualSeed(1)
	s := NewStore(torch.CPU)
	defer s.Free()
	var bn *BatchNorm2d
	a := s.Group("a.features", func() { NewConv2d(s, "a.features.0", 1, 2, 1, torch.Conv2dOpts{}, true, nil, nil) })
	head := s.Group("a.head", func() { NewLinear(s, "a.head", 2, 2, true, nil, nil) })
	b := s.Group("b.features", func() {
		NewConv2d(s, "b.features.0", 1, 2, 1, torch.Conv2dOpts{}, true, nil, nil)
		bn = NewBatchNorm2d(s, "b.features.1", 2)
	})
	NewLinear(s, "loose", 2, 1, false, nil, nil)

	names := func(g *Group) string {
		var n []string
		for _, e := range g.Entries() {
			if e.Group() != g {
				t.Errorf("%s: Group() is %v, want %s", e.Name, e.Group(), g.Name)
			}
			n = append(n, e.Name)
		}
		return strings.Join(n, " ")
	}
	if got := names(a); got != "a.features.0.weight a.features.0.bias" {
		t.Errorf("group a.features holds %q", got)
	}
	if got := names(b); got != "b.features.0.weight b.features.0.bias b.features.1.weight b.features.1.bias b.features.1.running_mean b.features.1.running_var b.features.1.num_batches_tracked" {
		t.Errorf("group b.features holds %q", got)
	}
	if got := s.Ungrouped(); !slices.Equal(got, []string{"loose.weight"}) {
		t.Errorf("ungrouped %v", got)
	}
	if head.Get("a.head.weight") == nil || head.Get("a.features.0.weight") != nil || head.Get("nope") != nil {
		t.Error("Get finds names outside its group, or misses its own")
	}

	s.SetTrainable(a, b)
	for _, e := range s.Entries() {
		want := !e.Buffer && (e.Group() == a || e.Group() == b)
		if !e.Buffer && e.T.RequiresGrad() != want {
			t.Errorf("%s: requires grad %v, want %v", e.Name, e.T.RequiresGrad(), want)
		}
	}

	// b's conv copied into a's: a is b's first layer built again.
	bConv := s.Group("c.features", func() { NewConv2d(s, "c.features.0", 1, 2, 1, torch.Conv2dOpts{}, true, nil, nil) })
	if err := torch.Try(func() {
		torch.NoGrad(func() {
			if err := a.CopyFrom(bConv); err != nil {
				t.Fatal(err)
			}
		})
	}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"weight", "bias"} {
		if got, want := s.Get("a.features.0."+n).Float64s(), s.Get("c.features.0."+n).Float64s(); !slices.Equal(got, want) {
			t.Errorf("copied %s %v, want %v", n, got, want)
		}
	}
	before := s.Get("a.features.0.weight").Float64s()
	if err := a.CopyFrom(b); err == nil || !strings.Contains(err.Error(), "b.features has 7 tensors and a.features 2") {
		t.Errorf("copy from another module: %v", err)
	}
	if err := bConv.CopyFrom(head); err == nil || err.Error() != "a.head.weight has no counterpart in c.features" {
		t.Errorf("copy from another module: %v", err)
	}
	if !slices.Equal(before, s.Get("a.features.0.weight").Float64s()) || bn.Count.Item() != 0 {
		t.Error("a refused copy changed something")
	}

	for what, f := range map[string]func(){
		"nested":        func() { s.Group("x", func() { s.Group("x.y", func() {}) }) },
		"outside names": func() { s.Group("x", func() { NewLinear(s, "xy", 1, 1, false, nil, nil) }) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s group: no panic", what)
				}
			}()
			f()
		}()
	}
	if s.open != nil {
		t.Error("a panicking build left its group open")
	}
}
