package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// Backbone is one scale's feature extractor: it maps the scale's input
// [N,3,s,s] to the map [N,C,h,w] that the scale's APN reads and its
// classifier pools. Its parameters live under "scaleK.features.", the
// scale's Backbone group, which phases train or freeze as a whole.
type Backbone interface {
	// Forward runs the extractor on x (its memory format is kept: NHWC
	// stays NHWC). bnTrain makes its batch norms normalise by the batch's
	// statistics and update the running ones; otherwise they use the
	// running statistics, as at test time. A batch norm built frozen
	// (Config.FreezeBN) uses the running statistics either way.
	Forward(x *torch.Tensor, bnTrain bool) *torch.Tensor
}

// Arch is a family of backbones: how to build one, the shape of what it
// computes, and how ImageNet weights map onto its parameters.
type Arch interface {
	// Names are the Config.Backbone values the family builds.
	Names() []string
	// Validate checks the backbone's own settings in cfg (cfg.Backbone is
	// one of Names) and says what to change.
	Validate(cfg Config) error
	// New registers the backbone's parameters under prefix+".features." and
	// returns it. Batch norms are built frozen when cfg.FreezeBN.
	New(s *nn.Store, prefix string, cfg Config) Backbone
	// Channels is C of the features.
	Channels(cfg Config) int64
	// FeatureSize is the side h = w of the features for a square input of
	// side in (in / stride, rounded as the backbone's layers round).
	FeatureSize(cfg Config, in int64) int64
	// Pretrained checks a state dict of ImageNet weights (a torchvision
	// .pth, or a safetensors file, read by internal/weights) against the
	// backbone and returns its entries under the names New registers,
	// without the scale prefix ("features.0.weight"). Entries the backbone
	// has no use for (an ImageNet classifier) are skipped; anything else
	// that does not match is one error that starts with source and, where
	// the keys tell, names the model.backbone the file is for.
	Pretrained(source string, sd *weights.StateDict, cfg Config) (*weights.StateDict, error)
	// Detect names the backbone of this family whose layout sd's keys
	// have ("resnet101"), or describes one of the family that racnn does
	// not build ("resnet34 (basic blocks, which racnn does not build)"),
	// or returns "" when sd is not of the family: an import error into
	// any backbone says what the file holds with it.
	Detect(sd *weights.StateDict) string
}

// archs are the backbone families racnn builds. A new backbone is one file
// in this package that defines an Arch (its layers, torchvision's
// state_dict names, its weight mapping, its batch norms) and one entry
// here; model.backbone (the config's check included) then accepts its
// Names, and import errors recognise its state dicts.
var archs = []Arch{vggArch{}, smallArch{}, resNetArch{}}

// The config package validates model.backbone against these names; it
// cannot import this package, which reads it.
func init() { config.RegisterBackbones(Backbones()...) }

// Backbones lists the accepted Backbone values.
func Backbones() []string {
	var out []string
	for _, a := range archs {
		out = append(out, a.Names()...)
	}
	return out
}

// backboneArch returns the family that builds cfg.Backbone.
func (c Config) backboneArch() (Arch, error) {
	for _, a := range archs {
		if slices.Contains(a.Names(), c.Backbone) {
			return a, nil
		}
	}
	return nil, fmt.Errorf("model: unknown backbone %q (known: %s)", c.Backbone, strings.Join(Backbones(), ", "))
}

// NewBackbone registers a backbone for cfg under prefix + ".features.".
func NewBackbone(s *nn.Store, prefix string, cfg Config) (Backbone, error) {
	a, err := cfg.backboneArch()
	if err != nil {
		return nil, err
	}
	if err := a.Validate(cfg); err != nil {
		return nil, err
	}
	return a.New(s, prefix, cfg), nil
}

// FeatureSize returns the side of the backbone's feature map for a square
// input of side in (0 for an unknown backbone).
func (c Config) FeatureSize(in int64) int64 {
	a, err := c.backboneArch()
	if err != nil {
		return 0
	}
	return a.FeatureSize(c, in)
}

// FeatureChannels is the channel count of the backbone's features (0 for
// an unknown backbone).
func (c Config) FeatureChannels() int64 {
	a, err := c.backboneArch()
	if err != nil {
		return 0
	}
	return a.Channels(c)
}

// newBatchNorm is a backbone's batch norm: frozen (running statistics in
// every phase, weight and bias never optimised) with cfg.FreezeBN.
func newBatchNorm(s *nn.Store, name string, c int64, cfg Config) *nn.BatchNorm2d {
	if cfg.FreezeBN {
		return nn.NewFrozenBatchNorm2d(s, name, c)
	}
	return nn.NewBatchNorm2d(s, name, c)
}

// chain frees each intermediate handle as soon as the next layer has read
// it (autograd keeps what backward needs), as PyTorch's reference counting
// would: holding every activation to the end of the step raised the peak
// memory of a VGG-19 training step at 448 px from 2.8 to 3.8 GB (RSS).
type chain struct {
	in, cur *torch.Tensor
}

func newChain(x *torch.Tensor) *chain { return &chain{in: x, cur: x} }

// next makes y the current tensor and frees the previous one (never the
// chain's input, which the caller owns).
func (c *chain) next(y *torch.Tensor) {
	if c.cur != c.in {
		c.cur.Free()
	}
	c.cur = y
}

// withBackboneHint adds to a key-mismatch error what the file's keys look
// like when another backbone would take them: "; this looks like a
// resnet101 state dict — set model.backbone to resnet101" (each Arch's
// Detect). A file that holds none of the keys the backbone expects (want)
// and looks like no known backbone is said to be none.
func withBackboneHint(err error, sd *weights.StateDict, backbone string, want []weights.KeyShape) error {
	msg := err.Error()
	if strings.Contains(msg, "set model.backbone") {
		return err
	}
	got := ""
	for _, a := range archs {
		if got = a.Detect(sd); got != "" {
			break
		}
	}
	switch {
	case got == backbone:
	case got != "" && slices.Contains(Backbones(), got):
		msg += fmt.Sprintf("; this looks like a %s state dict — set model.backbone to %s", got, got)
	case got != "":
		msg += "; this looks like a " + got + " state dict"
	case hasKeyPrefix(sd, "module."):
		msg += `; the keys start with "module." (saved from a DataParallel model): in Python save model.module.state_dict() instead`
	case !slices.ContainsFunc(want, func(k weights.KeyShape) bool { _, ok := sd.Get(k.Name); return ok }):
		first := sd.Keys()
		if len(first) > 3 {
			first = first[:3]
		}
		msg += fmt.Sprintf("; this is not a torchvision %s state dict (its keys start %s)", backbone, strings.Join(first, ", "))
	}
	return fmt.Errorf("%s", msg)
}

func hasKeyPrefix(sd *weights.StateDict, p string) bool {
	return slices.ContainsFunc(sd.Keys(), func(k string) bool { return strings.HasPrefix(k, p) })
}
