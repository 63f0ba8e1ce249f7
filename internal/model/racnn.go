package model

import (
	"fmt"
	"strings"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// Scale is one scale's sub-network: backbone, classifier and, on every scale
// that feeds a finer one, an APN.
type Scale struct {
	Backbone   Backbone
	Classifier *nn.Linear   // "scaleK.classifier": pooled feature → class scores
	APN        apn.Proposer // "scaleK.apn"; nil on the last scale
	InputSize  int64
}

// RACNN is the model: Cfg.Scales scales and the fusion classifier(s).
type RACNN struct {
	Cfg      Config
	Store    *nn.Store
	Scales   []*Scale
	Fusion   *nn.Linear // nil when Scales == 1
	Fusion12 *nn.Linear // nil unless Cfg.Fusion12 and Scales == 3
	// Groups are the parameter groups of its modules, which training selects.
	Groups Groups
	// precision is the forward passes' (SetPrecision).
	precision string
}

// Groups are the model's parameter groups, one per module, registered as
// New builds it: every entry of the Store is in exactly one. Phases train,
// optimisers hold and freezing turns off these groups, not names.
type Groups struct {
	Scales   []ScaleGroups
	Fusion   *nn.Group // "fusion"; nil when Scales == 1
	Fusion12 *nn.Group // "fusion12"; nil without the fusion12 classifier
}

// ScaleGroups are one scale's parameter groups.
type ScaleGroups struct {
	Name       string    // the scale's path, "scaleK": the start of its groups' names
	Backbone   *nn.Group // "scaleK.features"
	Classifier *nn.Group // "scaleK.classifier"
	APN        *nn.Group // "scaleK.apn"; nil on the last scale
}

// Classification lists the groups trained with the softmax losses (the
// paper's classification phase): each scale's backbone and classifier, then
// the fusion classifiers.
func (g Groups) Classification() []*nn.Group {
	var out []*nn.Group
	for _, s := range g.Scales {
		out = append(out, s.Backbone, s.Classifier)
	}
	return append(out, g.Fusions()...)
}

// Fusions lists the fusion classifiers' groups.
func (g Groups) Fusions() []*nn.Group {
	var out []*nn.Group
	for _, f := range []*nn.Group{g.Fusion, g.Fusion12} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// APNs lists the APNs' groups (the paper's ranking phase).
func (g Groups) APNs() []*nn.Group {
	var out []*nn.Group
	for _, s := range g.Scales {
		if s.APN != nil {
			out = append(out, s.APN)
		}
	}
	return out
}

// Backbones lists the scales' backbone groups: the weights that ImageNet
// can start, as against the heads that start from their initialisation.
func (g Groups) Backbones() []*nn.Group {
	out := make([]*nn.Group, len(g.Scales))
	for i, s := range g.Scales {
		out[i] = s.Backbone
	}
	return out
}

// Output is what Forward computes. All tensors belong to the caller's scope.
type Output struct {
	Logits   []*torch.Tensor // per scale [N, classes]
	Fused    *torch.Tensor   // [N, classes] from the fusion classifier (nil when Scales == 1)
	Fused12  *torch.Tensor   // [N, classes] from the scales-1+2 fusion classifier (nil unless Fusion12, Scales == 3)
	Boxes    []*torch.Tensor // per APN [N, 3] (t_x, t_y, t_l), fractions of the SOURCE image
	Features []*torch.Tensor // per scale pooled features ×FeatureScale [N, C]
	Crops    []*torch.Tensor // the zoomed inputs of scales 2.. [N, 3, s, s]
	// RawBoxes are the APNs' own outputs, each relative to its scale's
	// input, and Maps the last conv features those APNs read: APN
	// pre-training regresses RawBoxes[k] onto the peak-response square of Maps[k].
	RawBoxes []*torch.Tensor
	Maps     []*torch.Tensor
}

// New builds the model with freshly initialised weights (from libtorch's
// seeded generator, see torch.ManualSeed) on device.
func New(cfg Config, device torch.Device) (m *RACNN, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m = &RACNN{Cfg: cfg, Store: nn.NewStore(device)}
	err = torch.Try(func() {
		c := cfg.FeatureChannels()
		for s := 0; s < cfg.Scales; s++ {
			g := ScaleGroups{Name: fmt.Sprintf("scale%d", s+1)}
			var bb Backbone
			g.Backbone = m.Store.Group(g.Name+".features", func() {
				var berr error
				if bb, berr = NewBackbone(m.Store, g.Name, cfg); berr != nil {
					torch.Fail(berr)
				}
			})
			sc := &Scale{Backbone: bb, InputSize: cfg.InputSize[s]}
			g.Classifier = m.Store.Group(g.Name+".classifier", func() {
				sc.Classifier = newHead(m.Store, g.Name+".classifier", c, cfg.NumClasses)
			})
			if s+1 < cfg.Scales {
				f := cfg.FeatureSize(cfg.InputSize[s])
				g.APN = m.Store.Group(g.Name+".apn", func() {
					sc.APN = apn.NewProposer(m.Store, g.Name+".apn", c, f, f, cfg.APNHidden, cfg.APN)
				})
			}
			m.Scales = append(m.Scales, sc)
			m.Groups.Scales = append(m.Groups.Scales, g)
		}
		if cfg.Scales > 1 {
			m.Groups.Fusion = m.Store.Group("fusion", func() {
				m.Fusion = newHead(m.Store, "fusion", c*int64(cfg.Scales), cfg.NumClasses)
			})
		}
		if cfg.hasFusion12() {
			m.Groups.Fusion12 = m.Store.Group("fusion12", func() {
				m.Fusion12 = newHead(m.Store, "fusion12", 2*c, cfg.NumClasses)
			})
		}
		if u := m.Store.Ungrouped(); len(u) > 0 {
			torch.Fail(fmt.Errorf("model: no parameter group holds %s", strings.Join(u, ", ")))
		}
	})
	if err != nil {
		m.Store.Free()
		return nil, fmt.Errorf("model: build %s: %w", cfg.arch(), err)
	}
	return m, nil
}

// newHead is a classifier with torchvision's linear init: N(0, 0.01), bias 0.
func newHead(s *nn.Store, prefix string, in, out int64) *nn.Linear {
	return nn.NewLinear(s, prefix, in, out, true, nn.Normal(0.01), nn.Zeros)
}

// ClassifierLogits are the scores the classification phases put a softmax
// loss on, in this order: every scale, the fusion classifier and, when
// present, fusion12.
func (o *Output) ClassifierLogits() []*torch.Tensor {
	l := append([]*torch.Tensor(nil), o.Logits...)
	if o.Fused != nil {
		l = append(l, o.Fused)
	}
	if o.Fused12 != nil {
		l = append(l, o.Fused12)
	}
	return l
}

// Free releases the model's tensors.
func (m *RACNN) Free() { m.Store.Free() }

// ForwardOptions restrict a forward pass to what a training phase needs.
type ForwardOptions struct {
	// Scales runs only the first Scales scales (0: all of them). The fusion
	// classifiers need every scale, so they are skipped on a partial pass.
	Scales int
	// DetachBoxes cuts the graph between each box and the crop it cuts. APN
	// pre-training regresses every APN onto its own target, so no gradient
	// has to flow back through the finer scales' backbones and crops.
	DetachBoxes bool
	// AllBoxes runs the APN of the last scale run too, so a pass restricted
	// to scales 1..S−1 still yields every APN's box and the map it read: APN
	// pre-training regresses each APN onto a target from its own scale's
	// map and has no use for the last scale's pass.
	AllBoxes bool
	// Frozen marks, per scale, a backbone that the phase does not train: it
	// runs with its running batch-norm statistics, as evaluation will run
	// it, instead of the batch's. An APN reads that backbone's features, so
	// it must learn on the features it will see at test time.
	Frozen []bool
}

// Forward runs every scale (ForwardWith with no restriction). source is the full-resolution image [N,3,Hs,Ws]
// every crop is cut from; input is the scale-1 input [N,3,s1,s1] (nil: source
// resized bilinearly). Scale 2 sees apn.Crop(source, box1), scale 3
// apn.Crop(source, Compose(box1, box2)): crops always come from the source,
// never from a down-sized scale input. train selects batch statistics in the
// BN backbones. Ops panic with *torch.Error and the model's own checks
// through torch.Fail (wrap the step in torch.Try).
func (m *RACNN) Forward(source, input *torch.Tensor, train bool) *Output {
	return m.ForwardWith(source, input, train, ForwardOptions{})
}

// ForwardWith is Forward restricted by o. It runs in the model's precision
// (SetPrecision); every tensor of the Output but Maps is float32.
func (m *RACNN) ForwardWith(source, input *torch.Tensor, train bool, o ForwardOptions) (out *Output) {
	m.autocast(func() { out = m.forward(source, input, train, o) })
	return out
}

func (m *RACNN) forward(source, input *torch.Tensor, train bool, o ForwardOptions) *Output {
	cfg := m.Cfg
	if input == nil {
		input = torch.InterpolateBilinear(source, cfg.InputSize[0], cfg.InputSize[0], false, false)
	}
	if sh := input.Shape(); len(sh) != 4 || sh[1] != 3 || sh[2] != cfg.InputSize[0] || sh[3] != cfg.InputSize[0] {
		torch.Fail(fmt.Errorf("model: scale-1 input has shape %v; want [N, 3, %d, %d]", sh, cfg.InputSize[0], cfg.InputSize[0]))
	}
	if cfg.Scales > 1 {
		if sh := source.Shape(); len(sh) != 4 || sh[1] != 3 {
			torch.Fail(fmt.Errorf("model: source image has shape %v; want [N, 3, H, W]", sh))
		}
	}
	var srcH, srcW int64
	if cfg.Scales > 1 {
		srcH, srcW = source.Size(2), source.Size(3)
	}
	out := &Output{}
	x := input
	var box *torch.Tensor // the last box, relative to the source
	scales := m.Scales
	if o.Scales > 0 && o.Scales < len(scales) {
		scales = scales[:o.Scales]
	}
	for s, sc := range scales {
		if s > 0 {
			cropBox := box
			if o.DetachBoxes {
				cropBox = box.Detach()
			}
			x = apn.Crop(source, cropBox, sc.InputSize, sc.InputSize, cfg.APN)
			out.Crops = append(out.Crops, x)
		}
		bnTrain := train && !(s < len(o.Frozen) && o.Frozen[s])
		var f *torch.Tensor
		if cfg.ChannelsLast {
			xl := x.ChannelsLast()
			f = sc.Backbone.Forward(xl, bnTrain)
			xl.Free() // handles only: autograd keeps what it needs
		} else {
			f = sc.Backbone.Forward(x, bnTrain)
		}
		feat := f.MeanDims([]int64{2, 3}, false).MulScalar(cfg.FeatureScale)
		out.Features = append(out.Features, feat.Widen())
		out.Logits = append(out.Logits, sc.Classifier.Forward(feat).Widen())
		if sc.APN != nil && (s+1 < len(scales) || o.AllBoxes) {
			b := sc.APN.Forward(f) // relative to this scale's input
			out.RawBoxes = append(out.RawBoxes, b)
			out.Maps = append(out.Maps, f)
			if box != nil {
				b = apn.Compose(box, b, srcW, srcH)
			}
			box = b
			out.Boxes = append(out.Boxes, box)
		} else {
			f.Free() // Maps keeps the APN scales' features for pre-training
		}
	}
	if len(scales) < len(m.Scales) {
		return out
	}
	out.Fused, out.Fused12 = m.FusionForward(m.FusionInputs(out.Features))
	return out
}

// FusionInputs returns what the fusion classifiers read from the scales'
// features (Output.Features): all scales fused, and scales 1+2 fused for
// Fusion12 (nil without it). Both are cut from the graph (fuse).
func (m *RACNN) FusionInputs(feats []*torch.Tensor) (all, first2 *torch.Tensor) {
	if m.Fusion != nil {
		all = fuse(feats)
	}
	if m.Fusion12 != nil {
		first2 = fuse(feats[:2])
	}
	return all, first2
}

// FusionForward runs the fusion classifiers on FusionInputs' tensors (nil
// in, nil out), in the model's precision; the logits come out float32.
func (m *RACNN) FusionForward(all, first2 *torch.Tensor) (fused, fused12 *torch.Tensor) {
	m.autocast(func() {
		if all != nil {
			fused = m.Fusion.Forward(all).Widen()
		}
		if first2 != nil {
			fused12 = m.Fusion12.Forward(first2).Widen()
		}
	})
	return fused, fused12
}

// CopyScale1 copies scale 1's backbone and classifier (weights and batch
// norm statistics) into every finer scale. The paper starts all scales from
// the same ImageNet network; after phase (a) has fine-tuned scale 1, its
// network is the better common start: the finer scales begin with
// features that already respond to the classes, which is also what their
// APN pre-training reads.
func (m *RACNN) CopyScale1() error {
	return torch.Try(func() {
		torch.NoGrad(func() {
			s1 := m.Groups.Scales[0]
			for _, sg := range m.Groups.Scales[1:] {
				for _, p := range [][2]*nn.Group{{sg.Backbone, s1.Backbone}, {sg.Classifier, s1.Classifier}} {
					if err := p[0].CopyFrom(p[1]); err != nil {
						torch.Fail(fmt.Errorf("model: %w", err))
					}
				}
			}
		})
	})
}

// fuse L2-normalises each scale's feature and concatenates them, cut from
// the graph: the fusion classifiers learn on the scales' features but do not
// train the backbones. The paper's objective has no fusion term, and an
// untrained fusion head's gradient, multiplied ~10x by normalising features
// of norm ~0.1, would wreck a fine-tuned scale 1 (docs/method.md).
//
// The normalisation runs in float32 with autocast off: a bf16 norm of a
// 512-wide feature rounds every component's scale by up to 1/256.
func fuse(feats []*torch.Tensor) (out *torch.Tensor) {
	torch.WithoutAutocast(func() {
		n := make([]*torch.Tensor, len(feats))
		for i, f := range feats {
			n[i] = torch.Normalize(f.Detach().Widen(), 2, 1, 1e-12)
		}
		out = torch.Cat(n, 1)
	})
	return out
}

// Device is where the model's tensors live.
func (m *RACNN) Device() torch.Device { return m.Store.Device }

// SetAPNConfig changes the crop and box settings of every APN (e.g. to
// evaluate a checkpoint in another crop mode). The head kind and its pool
// shape the weights, so they cannot change.
func (m *RACNN) SetAPNConfig(c apn.Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if c.HeadKind() != m.Cfg.APN.HeadKind() || c.PoolSize() != m.Cfg.APN.PoolSize() {
		return fmt.Errorf("model: the APN head (%s, pool %d) is part of the architecture; it cannot become %s, pool %d",
			m.Cfg.APN.HeadKind(), m.Cfg.APN.PoolSize(), c.HeadKind(), c.PoolSize())
	}
	m.Cfg.APN = c
	for _, sc := range m.Scales {
		if sc.APN != nil {
			sc.APN.SetConfig(c)
		}
	}
	return nil
}
