package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/weights"
)

// smallArch is a VGG-style net built from Config.SmallChannels (3×3
// convolutions with padding 1, each followed by ReLU, or by BatchNorm2d and
// ReLU for small_bn, and Pool for a 2×2 max-pool), laid out and named as
// torchvision's VGG "features". Its stride is 2 per pool. It has no
// ImageNet weights.
type smallArch struct{}

func (smallArch) Names() []string { return []string{"small", "small_bn"} }

func (smallArch) Validate(cfg Config) error {
	if len(cfg.SmallChannels) == 0 {
		return fmt.Errorf("model: backbone %s needs small_channels (e.g. [32, -1, 64, -1, 128], -1 = 2×2 max-pool)", cfg.Backbone)
	}
	convs := 0
	for _, v := range cfg.SmallChannels {
		switch {
		case v == Pool:
		case v > 0:
			convs++
		default:
			return fmt.Errorf("model: small_channels entry %d: want a positive channel count or -1 for a max-pool", v)
		}
	}
	if convs == 0 {
		return fmt.Errorf("model: small_channels %v has no convolution", cfg.SmallChannels)
	}
	return nil
}

func (smallArch) New(s *nn.Store, prefix string, cfg Config) Backbone {
	return newVGGNet(s, prefix, slices.Clone(cfg.SmallChannels), strings.HasSuffix(cfg.Backbone, "_bn"), cfg)
}

func (smallArch) Channels(cfg Config) int64 { return vggChannels(cfg.SmallChannels) }

func (smallArch) FeatureSize(cfg Config, in int64) int64 {
	return vggFeatureSize(cfg.SmallChannels, in)
}

func (a smallArch) Pretrained(source string, _ *weights.StateDict, cfg Config) (*weights.StateDict, error) {
	others := slices.DeleteFunc(Backbones(), func(n string) bool { return slices.Contains(a.Names(), n) })
	return nil, fmt.Errorf("%s: backbone %s has no torchvision counterpart; import ImageNet weights into a %s model", source, cfg.Backbone,
		strings.Join(others, ", "))
}

// Detect: no file holds a small net's weights but racnn's own checkpoints.
func (smallArch) Detect(*weights.StateDict) string { return "" }
