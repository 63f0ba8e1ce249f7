// Package model assembles RA-CNN (Fu et al., CVPR 2017) from the binding's
// ops: VGG backbones whose parameters carry torchvision's state_dict names,
// three scales (backbone → global average pool → linear classifier), an
// attention proposal network (internal/apn) on scales 1 and 2, the fusion
// classifier over the scales' normalised features, and torchvision weight
// import. Checkpoints are internal/checkpoint's.
//
// Parameter names (nn.Store keys), one parameter group (RACNN.Groups) a line:
//
//	scale1.features.0.weight …      torchvision VGG "features" keys under "scaleK."
//	scale1.classifier.weight/bias   the scale's own classifier
//	scale1.apn.fc1.weight …         the APN of scales 1 and 2 (internal/apn)
//	fusion.weight/bias              classifier over all scales' features
//	fusion12.weight/bias            classifier over scales 1 and 2 (Scales == 3)
//
// The paper's "scale 1+2" row. The paper reports, besides each scale and
// the full three-scale fusion, a two-scale figure (84.7 % on CUB) that fuses
// the first two scales' features with its own fully-connected layer. The
// faithful counterpart here is a second fusion classifier, fusion12, over
// the normalised features of scales 1 and 2, trained alongside the main one
// (Output.ClassifierLogits lists it for the softmax losses; Config.Fusion12,
// on by default). With two scales the main fusion already is "1+2".
package model

import (
	"fmt"
	"strings"

	"github.com/racnn/racnn/internal/apn"
)

// Pool marks a 2×2 max-pool in SmallChannels (other entries are the output
// channels of a 3×3 convolution with padding 1, followed by ReLU).
const Pool = -1

// Config is the model's architecture. Fields that change a parameter's shape
// or the meaning of the weights (everything but APN and ChannelsLast) are
// saved with every checkpoint and must match when it is loaded.
type Config struct {
	// Backbone is "vgg16", "vgg19", "vgg16_bn", "vgg19_bn" (torchvision's
	// layers, cut after the ReLU of the last convolution: no final max-pool),
	// "small" or "small_bn" (a VGG-style net built from SmallChannels),
	// "resnet50" or "resnet101" (torchvision's, up to layer4). Backbones
	// lists them; backbone.go says how to add one.
	Backbone string `mapstructure:"backbone" json:"backbone"`
	// FreezeBN builds every batch norm of the backbones frozen: it
	// normalises by its running statistics in every phase and its weight
	// and bias are never optimised (torchvision's FrozenBatchNorm2d), as is
	// common when a GPU holds only a few images of a fine-grained batch.
	// Not architecture: the same weights load either way.
	FreezeBN bool `mapstructure:"freeze_bn" json:"freeze_bn,omitempty"`
	// SmallChannels is the "small" backbone: conv output channels, Pool for
	// a 2×2 max-pool, e.g. [32, -1, 64, -1, 128].
	SmallChannels []int64 `mapstructure:"small_channels" json:"small_channels,omitempty"`
	NumClasses    int64   `mapstructure:"num_classes" json:"num_classes"`
	// InputSize is the side of each scale's square input (paper: 448, 224, 224).
	InputSize [3]int64 `mapstructure:"input_size" json:"input_size"`
	// Scales is 1 (a plain single-scale CNN), 2 or 3 (the paper).
	Scales int `mapstructure:"scales" json:"scales"`
	// APN configures the box parameterisation and the crop (not saved as
	// architecture: a checkpoint may be evaluated with another crop mode).
	APN apn.Config `mapstructure:"apn" json:"apn"`
	// APNHidden is the width of the APN's hidden layer (paper: 1024).
	APNHidden int64 `mapstructure:"apn_hidden" json:"apn_hidden"`
	// FeatureScale multiplies each scale's pooled feature (released model: 0.1).
	FeatureScale float64 `mapstructure:"feature_scale" json:"feature_scale"`
	// Fusion12 adds a second fusion classifier over scales 1 and 2 only, the
	// paper's "scale 1+2" row (only with Scales == 3; with Scales == 2 the
	// main fusion classifier already is scales 1+2).
	Fusion12 bool `mapstructure:"fusion12" json:"fusion12"`
	// ChannelsLast runs the convolutions on NHWC tensors (each scale's input
	// is converted once), which oneDNN runs faster on the CPU.
	ChannelsLast bool `mapstructure:"channels_last" json:"channels_last"`
}

// Default is the paper's configuration: VGG-19, 448 → 224 → 224, three
// scales, 200 classes (CUB-200-2011).
func Default() Config {
	return Config{
		Backbone:     "vgg19",
		NumClasses:   200,
		InputSize:    [3]int64{448, 224, 224},
		Scales:       3,
		APN:          apn.DefaultConfig(),
		APNHidden:    1024,
		FeatureScale: 0.1,
		Fusion12:     true,
		ChannelsLast: true,
	}
}

// Small is a small VGG-style configuration at 48 px per scale, 10 classes:
// the first CPU demo's model, kept as the benchmark's "demo" case and as a
// base for tests (the demo's own is configs/cluttered-mnist.yaml).
func Small() Config {
	c := Default()
	c.Backbone = "small"
	c.SmallChannels = []int64{32, Pool, 64, Pool, 128}
	c.NumClasses = 10
	c.InputSize = [3]int64{48, 48, 48}
	c.APNHidden = 256
	return c
}

// Validate checks the configuration and says what to change.
func (c Config) Validate() error {
	a, err := c.backboneArch()
	if err != nil {
		return err
	}
	if err := a.Validate(c); err != nil {
		return err
	}
	if c.NumClasses < 1 {
		return fmt.Errorf("model: num_classes is %d; want at least 1", c.NumClasses)
	}
	if c.Scales < 1 || c.Scales > 3 {
		return fmt.Errorf("model: scales is %d; want 1 (single-scale CNN), 2 or 3", c.Scales)
	}
	for s := 0; s < c.Scales; s++ {
		in := c.InputSize[s]
		if in < 1 {
			return fmt.Errorf("model: input_size[%d] (scale %d) is %d; want a positive side in pixels", s, s+1, in)
		}
		f := c.FeatureSize(in)
		if f < 1 {
			return fmt.Errorf("model: scale %d input of %d px shrinks to nothing in backbone %s; use a larger input_size", s+1, in, c.Backbone)
		}
		if s+1 < c.Scales && f < 2 {
			return fmt.Errorf("model: scale %d features are %d×%d, too small for the APN's 2×2 max-pool; use a larger input_size[%d]", s+1, f, f, s)
		}
	}
	if c.Scales > 1 {
		if c.APNHidden < 1 {
			return fmt.Errorf("model: apn_hidden is %d; want a positive width (paper: 1024)", c.APNHidden)
		}
		if err := c.APN.Validate(); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	if !(c.FeatureScale > 0) {
		return fmt.Errorf("model: feature_scale is %g; want a positive factor (released model: 0.1)", c.FeatureScale)
	}
	return nil
}

// archItems is the part of the config a checkpoint's weights depend on, as
// words for error messages, in a fixed order.
func (c Config) archItems() []string {
	bb := "backbone " + c.Backbone
	if strings.HasPrefix(c.Backbone, "small") {
		bb += fmt.Sprintf(" %v", c.SmallChannels)
	}
	items := []string{bb, fmt.Sprintf("%d classes", c.NumClasses), fmt.Sprintf("%d scales", c.Scales)}
	sizes := c.InputSize
	for s := c.Scales; s < 3; s++ {
		sizes[s] = 0 // unused sides do not matter
	}
	items = append(items, fmt.Sprintf("inputs %v px", sizes[:max(c.Scales, 1)]))
	hidden := c.APNHidden
	if c.Scales == 1 {
		hidden = 0
	}
	pool, head := c.APN.PoolSize(), c.APN.HeadKind()
	if c.Scales == 1 {
		pool, head = 0, "none"
	} else if head == apn.HeadSoftArgmax {
		pool = 0 // the soft-argmax head reads every cell
	}
	items = append(items, "APN head "+head, fmt.Sprintf("APN hidden %d", hidden), fmt.Sprintf("APN pool %d", pool), fmt.Sprintf("feature scale %g", c.FeatureScale),
		fmt.Sprintf("fusion12 %v", c.hasFusion12()))
	return items
}

// arch describes the architecture in words.
func (c Config) arch() string { return strings.Join(c.archItems(), ", ") }

func (c Config) hasFusion12() bool { return c.Fusion12 && c.Scales == 3 }
