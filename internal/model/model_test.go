package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// tiny is a fast 3-scale config for unit tests.
func tiny() Config {
	c := Small()
	c.SmallChannels = []int64{8, Pool, 16, Pool, 16}
	c.NumClasses = 5
	c.InputSize = [3]int64{32, 24, 24}
	c.APNHidden = 32
	c.ChannelsLast = false
	return c
}

func newModel(t *testing.T, cfg Config) *RACNN {
	t.Helper()
	m, err := New(cfg, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

func TestBackboneKeysAreTorchvisions(t *testing.T) {
	raw, err := os.ReadFile("testdata/torchvision_vgg_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][][2]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vgg16", "vgg19", "vgg16_bn", "vgg19_bn"} {
		s := nn.NewStore(torch.CPU)
		if _, err := NewBackbone(s, "scale1", Config{Backbone: name}); err != nil {
			t.Fatal(err)
		}
		var got, exp []string
		for _, e := range s.Entries() {
			got = append(got, strings.TrimPrefix(e.Name, "scale1.")+" "+shapeString(e.T.Shape()))
		}
		for _, ks := range want[name] {
			var shape []int64
			for _, d := range ks[1].([]any) {
				shape = append(shape, int64(d.(float64)))
			}
			exp = append(exp, ks[0].(string)+" "+shapeString(shape))
		}
		if !slices.Equal(got, exp) {
			t.Errorf("%s: keys differ from torchvision's features (without the final pool)\n got %v\nwant %v", name, got, exp)
		}
		// The key list ImportTorchvision checks files against agrees.
		var wk []string
		for _, k := range vggKeys(name) {
			wk = append(wk, k.Name+" "+shapeString(k.Shape))
		}
		if !slices.Equal(wk, exp) {
			t.Errorf("%s: vggKeys %v", name, wk)
		}
		s.Free()
	}
	// vgg19's last conv is features.34 (conv5_4), followed by its ReLU only.
	if l, _ := (vggArch{}).layers(Config{Backbone: "vgg19"}); len(l) != 20 || l[len(l)-1] != 512 {
		t.Errorf("vgg19 layers %v", l)
	}
}

func shapeString(s []int64) string {
	b, _ := json.Marshal(s)
	if s == nil {
		return "[]"
	}
	return string(b)
}

func TestInitIsTorchvisions(t *testing.T) {
	torch.ManualSeed(3)
	cfg := tiny()
	cfg.Backbone = "small_bn"
	m := newModel(t, cfg)
	torch.WithScope(func() {
		w := m.Store.Get("scale1.features.4.weight") // conv 8 → 16 (0 conv, 1 BN, 2 ReLU, 3 pool, 4 conv, 5 BN)
		if w == nil {
			t.Fatalf("names %v", m.Store.Names())
		}
		// kaiming normal, fan_out = 16·9: std sqrt(2/144) ≈ 0.118.
		std := w.Square().Mean().Sqrt().Item()
		if math.Abs(std-math.Sqrt(2.0/144)) > 0.02 {
			t.Errorf("conv init std %v", std)
		}
		if b := m.Store.Get("scale1.features.4.bias").Abs().Sum().Item(); b != 0 {
			t.Errorf("conv bias %v", b)
		}
		if v := m.Store.Get("scale2.features.5.weight").Float32s(); v[0] != 1 {
			t.Errorf("bn weight %v", v)
		}
		if m.Store.Get("scale3.features.5.num_batches_tracked") == nil {
			t.Error("no num_batches_tracked")
		}
		if b := m.Store.Get("fusion.bias").Abs().Sum().Item(); b != 0 {
			t.Errorf("fusion bias %v", b)
		}
	})
	wantAPN := []string{"scale1.apn.", "scale2.apn."}
	if got := groupNames(m.Groups.APNs(), "."); !slices.Equal(got, wantAPN) {
		t.Errorf("APN prefixes %v", got)
	}
	for _, e := range m.Store.Entries() {
		cls := slices.Contains(m.Groups.Classification(), e.Group())
		apn := slices.Contains(m.Groups.APNs(), e.Group())
		if cls == apn {
			t.Errorf("%s: classifier prefix %v, APN prefix %v (want exactly one)", e.Name, cls, apn)
		}
	}
}

// groupNames are the groups' names, each followed by suffix.
func groupNames(gs []*nn.Group, suffix string) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name+suffix)
	}
	return out
}

// The parameter groups partition the store: every entry is in exactly one
// group of allGroups, under that group's name, the groups in the store's
// order, for every backbone family, 1-3 scales, with and without fusion12;
// the selections are the right groups.
func TestGroupsPartitionTheModel(t *testing.T) {
	for _, bb := range []string{"small", "small_bn", "vgg16", "resnet50"} {
		for _, tc := range []struct {
			scales   int
			fusion12 bool
		}{{1, false}, {2, false}, {3, false}, {3, true}} {
			cfg := tiny()
			cfg.Backbone, cfg.Scales, cfg.Fusion12 = bb, tc.scales, tc.fusion12
			if !strings.HasPrefix(bb, "small") {
				cfg.SmallChannels = nil
				cfg.InputSize = [3]int64{128, 128, 128}
			}
			m := newModel(t, cfg)
			name := fmt.Sprintf("%s, %d scale(s), fusion12 %v", bb, tc.scales, tc.fusion12)
			in := map[*nn.Entry]int{}
			var order []*nn.Entry
			for _, g := range allGroups(m.Groups) {
				if len(g.Entries()) == 0 {
					t.Errorf("%s: group %s is empty", name, g.Name)
				}
				for _, e := range g.Entries() {
					in[e]++
					order = append(order, e)
					if e.Group() != g || !strings.HasPrefix(e.Name, g.Name+".") {
						t.Errorf("%s: %s listed in group %s", name, e.Name, g.Name)
					}
				}
			}
			for _, e := range m.Store.Entries() {
				if in[e] != 1 {
					t.Errorf("%s: %s is in %d groups", name, e.Name, in[e])
				}
			}
			if !slices.Equal(order, m.Store.Entries()) {
				t.Errorf("%s: the groups' entries are not in the store's order", name)
			}
			var want []string
			for s := 1; s <= tc.scales; s++ {
				want = append(want, fmt.Sprintf("scale%d.features", s), fmt.Sprintf("scale%d.classifier", s))
				if s < tc.scales {
					want = append(want, fmt.Sprintf("scale%d.apn", s))
				}
			}
			if tc.scales > 1 {
				want = append(want, "fusion")
			}
			if tc.fusion12 {
				want = append(want, "fusion12")
			}
			if got := groupNames(allGroups(m.Groups), ""); !slices.Equal(got, want) {
				t.Errorf("%s: groups %v, want %v", name, got, want)
			}
			isAPN := func(g *nn.Group) bool { return strings.HasSuffix(g.Name, ".apn") }
			isFusion := func(g *nn.Group) bool { return strings.HasPrefix(g.Name, "fusion") }
			for _, sel := range []struct {
				what string
				got  []*nn.Group
				want func(*nn.Group) bool
			}{
				{"Classification", m.Groups.Classification(), func(g *nn.Group) bool { return !isAPN(g) }},
				{"APNs", m.Groups.APNs(), isAPN},
				{"Fusions", m.Groups.Fusions(), isFusion},
				{"Backbones", m.Groups.Backbones(), func(g *nn.Group) bool { return strings.HasSuffix(g.Name, ".features") }},
			} {
				if got, exp := groupNames(sel.got, ""), groupNames(slices.DeleteFunc(allGroups(m.Groups), func(g *nn.Group) bool { return !sel.want(g) }), ""); !slices.Equal(got, exp) {
					t.Errorf("%s: %s %v, want %v", name, sel.what, got, exp)
				}
			}
			m.Free()
		}
	}
}

func TestForwardShapesPerScaleCount(t *testing.T) {
	for scales := 1; scales <= 3; scales++ {
		cfg := tiny()
		cfg.Scales = scales
		m := newModel(t, cfg)
		torch.WithScope(func() {
			src := torch.Rand([]int64{2, 3, 40, 56})
			out := m.Forward(src, nil, true)
			if len(out.Logits) != scales || len(out.Features) != scales || len(out.Boxes) != scales-1 || len(out.Crops) != scales-1 {
				t.Fatalf("scales %d: %d logits, %d features, %d boxes, %d crops", scales, len(out.Logits), len(out.Features), len(out.Boxes), len(out.Crops))
			}
			for _, l := range out.Logits {
				if got := l.Shape(); !slices.Equal(got, []int64{2, 5}) {
					t.Fatalf("logits %v", got)
				}
			}
			if got := out.Features[0].Shape(); !slices.Equal(got, []int64{2, 16}) {
				t.Fatalf("features %v", got)
			}
			for i, c := range out.Crops {
				if got := c.Shape(); !slices.Equal(got, []int64{2, 3, 24, 24}) {
					t.Fatalf("crop %d %v", i, got)
				}
			}
			for _, b := range out.Boxes {
				for i, v := range b.Float32s() {
					if v <= 0 || v >= 1 {
						t.Fatalf("box value %d = %v", i, v)
					}
				}
			}
			if (out.Fused == nil) != (scales == 1) || (out.Fused12 == nil) != (scales != 3) {
				t.Fatalf("scales %d: fused %v fused12 %v", scales, out.Fused != nil, out.Fused12 != nil)
			}
			if n := len(out.ClassifierLogits()); n != map[int]int{1: 1, 2: 3, 3: 5}[scales] {
				t.Fatalf("classifier logits %d", n)
			}
		})
	}
}

func TestForwardRejectsBadInput(t *testing.T) {
	m := newModel(t, tiny())
	err := torch.Try(func() {
		torch.WithScope(func() {
			m.Forward(torch.Rand([]int64{2, 3, 40, 40}), torch.Rand([]int64{2, 3, 30, 30}), false)
		})
	})
	if err == nil || !strings.Contains(err.Error(), "want [N, 3, 32, 32]") {
		t.Fatalf("err %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Backbone = "resnet18" }, "unknown backbone"},
		{func(c *Config) { c.SmallChannels = nil }, "needs small_channels"},
		{func(c *Config) { c.SmallChannels = []int64{Pool} }, "no convolution"},
		{func(c *Config) { c.Scales = 4 }, "scales is 4"},
		{func(c *Config) { c.NumClasses = 0 }, "num_classes"},
		{func(c *Config) { c.InputSize[1] = 4 }, "too small for the APN"},
		{func(c *Config) { c.FeatureScale = 0 }, "feature_scale"},
		{func(c *Config) { c.APN.Mode = "stn" }, "apn mode"},
		{func(c *Config) { c.Backbone = "vgg19" }, "only used by the small backbones"},
	} {
		cfg := tiny()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Error(err)
	}
	if err := Small().Validate(); err != nil {
		t.Error(err)
	}
}

// The same weights give the same outputs in NHWC.
func TestChannelsLastMatches(t *testing.T) {
	torch.ManualSeed(5)
	cfg := tiny()
	cfg.Backbone = "small_bn"
	m := newModel(t, cfg)
	cl := newModel(t, cfg)
	cl.Cfg.ChannelsLast = true
	torch.WithScope(func() {
		for _, e := range m.Store.Entries() {
			cl.Store.Get(e.Name).CopyFrom(e.T)
		}
		src := torch.Rand([]int64{3, 3, 48, 48})
		a, b := m.Forward(src, nil, false), cl.Forward(src, nil, false)
		for s := range a.Logits {
			assertClose(t, "logits", a.Logits[s], b.Logits[s], 1e-5)
		}
		assertClose(t, "fused", a.Fused, b.Fused, 1e-5)
	})
}

func assertClose(t *testing.T, what string, got, want *torch.Tensor, tol float64) float64 {
	t.Helper()
	if g, w := got.Shape(), want.Shape(); !slices.Equal(g, w) {
		t.Fatalf("%s: shape %v, want %v", what, g, w)
	}
	d := got.ToDType(torch.Float64).Sub(want.ToDType(torch.Float64)).Abs().AmaxDims(nil, false).Item()
	if !(d <= tol) {
		t.Errorf("%s: max |diff| %.3g > %.3g", what, d, tol)
	}
	return d
}

// Tensor handles do not leak across training steps.
func TestNoLeak(t *testing.T) {
	m := newModel(t, tiny())
	step := func() {
		torch.WithScope(func() {
			out := m.Forward(torch.Rand([]int64{2, 3, 32, 32}), nil, true)
			labels := torch.FromSlice([]int64{0, 1}, 2)
			sumCrossEntropy(out, labels).Backward()
			torch.ZeroGrad(m.Store.Params(), true)
		})
	}
	step()
	base := torch.Live()
	for i := 0; i < 3; i++ {
		step()
	}
	if torch.Live() != base {
		t.Fatalf("live handles %d → %d", base, torch.Live())
	}
}

// sumCrossEntropy is the sum of every classifier's mean cross-entropy (the
// scales' and the fusions'), as the golden fixtures compute it.
func sumCrossEntropy(out *Output, labels *torch.Tensor) *torch.Tensor {
	var loss *torch.Tensor
	for _, l := range out.ClassifierLogits() {
		ce := torch.CrossEntropy(l, labels, torch.ReduceMean, 0)
		if loss == nil {
			loss = ce
		} else {
			loss = loss.Add(ce)
		}
	}
	return loss
}

// allGroups lists every group of g in registration order (the Store's).
func allGroups(g Groups) []*nn.Group {
	var out []*nn.Group
	for _, s := range g.Scales {
		out = append(out, s.Backbone, s.Classifier)
		if s.APN != nil {
			out = append(out, s.APN)
		}
	}
	return append(out, g.Fusions()...)
}
