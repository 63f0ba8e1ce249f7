package model

import (
	"fmt"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// A scale-1 pass runs scale 1 alone: no boxes, crops or fusion.
func TestForwardWithScales(t *testing.T) {
	m := newModel(t, tiny())
	torch.WithScope(func() {
		out := m.ForwardWith(torch.Rand([]int64{2, 3, 40, 40}), nil, true, ForwardOptions{Scales: 1})
		if len(out.Logits) != 1 || len(out.Boxes) != 0 || len(out.Crops) != 0 || out.Fused != nil || out.Fused12 != nil {
			t.Fatalf("%d logits, %d boxes, %d crops, fused %v", len(out.Logits), len(out.Boxes), len(out.Crops), out.Fused != nil)
		}
		full := m.Forward(torch.Rand([]int64{2, 3, 40, 40}), nil, true)
		if len(full.Logits) != 3 || full.Fused == nil {
			t.Fatal("the unrestricted pass lost scales")
		}
	})
}

// AllBoxes on a pass of scales 1-2 yields both APNs' boxes and maps without
// running scale 3, and the boxes equal the full pass's.
func TestForwardWithAllBoxes(t *testing.T) {
	m := newModel(t, tiny())
	torch.WithScope(func() {
		src := torch.Rand([]int64{2, 3, 40, 40})
		out := m.ForwardWith(src, nil, false, ForwardOptions{Scales: 2, AllBoxes: true})
		if len(out.Logits) != 2 || len(out.Boxes) != 2 || len(out.RawBoxes) != 2 || len(out.Maps) != 2 || len(out.Crops) != 1 {
			t.Fatalf("%d logits, %d boxes, %d raw boxes, %d maps, %d crops", len(out.Logits), len(out.Boxes), len(out.RawBoxes), len(out.Maps), len(out.Crops))
		}
		full := m.Forward(src, nil, false)
		for k := range full.Boxes {
			if d := full.Boxes[k].Sub(out.Boxes[k]).Abs().Sum().Item(); d != 0 {
				t.Fatalf("box %d differs from the full pass's by %g", k+1, d)
			}
		}
		if two := m.ForwardWith(src, nil, false, ForwardOptions{Scales: 2}); len(two.Boxes) != 1 {
			t.Fatalf("without AllBoxes a 2-scale pass gives %d boxes", len(two.Boxes))
		}
	})
}

// With DetachBoxes, a loss on scale 2's box reaches APN 2 but not APN 1;
// without, it reaches both (through scale 2's crop and backbone).
func TestForwardWithDetachBoxes(t *testing.T) {
	m := newModel(t, tiny())
	m.Store.SetTrainable(m.Groups.APNs()...)
	for _, detach := range []bool{false, true} {
		torch.WithScope(func() {
			torch.ZeroGrad(groupParams(m.Groups.APNs()...), true)
			out := m.ForwardWith(torch.Rand([]int64{2, 3, 40, 40}), nil, true, ForwardOptions{DetachBoxes: detach})
			out.RawBoxes[1].Sum().Backward()
			g1 := m.Store.Get("scale1.apn.fc1.weight").Grad()
			g2 := m.Store.Get("scale2.apn.fc1.weight").Grad()
			if g2 == nil || g2.Abs().Sum().Item() == 0 {
				t.Fatalf("detach %v: APN 2 got no gradient", detach)
			}
			reached := g1 != nil && g1.Abs().Sum().Item() > 0
			if reached == detach {
				t.Fatalf("detach %v: gradient reached APN 1: %v", detach, reached)
			}
		})
	}
}

// CopyScale1 makes every finer scale's backbone and classifier (batch-norm
// statistics included) equal to scale 1's, and leaves the APNs alone.
func TestCopyScale1(t *testing.T) {
	cfg := tiny()
	cfg.Backbone = "small_bn"
	m := newModel(t, cfg)
	torch.WithScope(func() {
		m.Forward(torch.Rand([]int64{2, 3, 40, 40}), nil, true) // moves the running stats
		apnBefore := m.Store.Get("scale2.apn.fc1.weight").Float32s()
		if err := m.CopyScale1(); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, name := range m.Store.Names() {
			rest, ok := strings.CutPrefix(name, "scale1.")
			if !ok || strings.HasPrefix(rest, "apn.") {
				continue
			}
			want := m.Store.Get(name).Float64s()
			for s := 2; s <= 3; s++ {
				got := m.Store.Get(fmt.Sprintf("scale%d.", s) + rest).Float64s()
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("scale%d.%s[%d] = %v, scale 1 has %v", s, rest, i, got[i], want[i])
					}
				}
				n++
			}
		}
		if n < 8 {
			t.Fatalf("compared only %d tensors", n)
		}
		after := m.Store.Get("scale2.apn.fc1.weight").Float32s()
		for i := range after {
			if after[i] != apnBefore[i] {
				t.Fatal("CopyScale1 changed APN 2")
			}
		}
	})
}

// A frozen scale runs with its running batch-norm statistics even in a
// training pass: its outputs equal evaluation's and its statistics stay put;
// the other scales still use (and update) the batch's.
func TestForwardWithFrozenScale(t *testing.T) {
	cfg := tiny()
	cfg.Backbone = "small_bn"
	m := newModel(t, cfg)
	torch.WithScope(func() {
		torch.NoGrad(func() {
			m.Forward(torch.Rand([]int64{4, 3, 40, 40}), nil, true) // running stats away from their init
			src := torch.Rand([]int64{4, 3, 40, 40})
			eval := m.Forward(src, nil, false).Logits[0].Float64s()
			mean1 := m.Store.Get("scale1.features.1.running_mean").Float64s()
			mean2 := m.Store.Get("scale2.features.1.running_mean").Float64s()
			out := m.ForwardWith(src, nil, true, ForwardOptions{Frozen: []bool{true}})
			got := out.Logits[0].Float64s()
			for i := range got {
				if d := got[i] - eval[i]; d > 1e-6 || d < -1e-6 {
					t.Fatalf("frozen scale-1 logit %d: %v, evaluation gives %v", i, got[i], eval[i])
				}
			}
			if after := m.Store.Get("scale1.features.1.running_mean").Float64s(); after[0] != mean1[0] {
				t.Fatal("a frozen scale's running mean moved")
			}
			if after := m.Store.Get("scale2.features.1.running_mean").Float64s(); after[0] == mean2[0] {
				t.Fatal("scale 2 (not frozen) kept its running mean in a training pass")
			}
		})
	})
}

// groupParams are the parameters (no buffers) of groups.
func groupParams(groups ...*nn.Group) []*torch.Tensor {
	var out []*torch.Tensor
	for _, g := range groups {
		for _, e := range g.Entries() {
			if !e.Buffer {
				out = append(out, e.T)
			}
		}
	}
	return out
}
