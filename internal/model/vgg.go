package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// vggArch is torchvision's VGG-16 and VGG-19, with and without batch norm,
// cut after the ReLU of the last convolution (conv5_3 for VGG-16, conv5_4
// for VGG-19): torchvision's final max-pool is left out, so the APN and the
// global pooling see conv5's full-resolution map (512 channels, stride 16:
// 28×28 at 448 px). Parameters are torchvision's "features.<i>.*" names.
type vggArch struct{}

// vggConfigs are torchvision's VGG layer lists (torchvision/models/vgg.py
// cfgs "A", "B", "D" and "E"), final max-pool included as there. racnn
// builds vgg16 and vgg19 (Names); vgg11 and vgg13 are here so that an
// import error can name a file that holds one.
var vggConfigs = map[string][]int64{
	"vgg11": {64, Pool, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool},
	"vgg13": {64, 64, Pool, 128, 128, Pool, 256, 256, Pool, 512, 512, Pool, 512, 512, Pool},
	"vgg16": {64, 64, Pool, 128, 128, Pool, 256, 256, 256, Pool, 512, 512, 512, Pool, 512, 512, 512, Pool},
	"vgg19": {64, 64, Pool, 128, 128, Pool, 256, 256, 256, 256, Pool, 512, 512, 512, 512, Pool, 512, 512, 512, 512, Pool},
}

// vggTorchvision are torchvision's VGG names, smallest first.
var vggTorchvision = []string{"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}

func (vggArch) Names() []string { return []string{"vgg16", "vgg19", "vgg16_bn", "vgg19_bn"} }

func (vggArch) Validate(cfg Config) error {
	if len(cfg.SmallChannels) > 0 {
		return fmt.Errorf("model: small_channels is only used by the small backbones, not %s; remove it", cfg.Backbone)
	}
	return nil
}

// layers is the backbone's layer list without the final max-pool, and
// whether each conv is followed by batch norm.
func (vggArch) layers(cfg Config) ([]int64, bool) {
	base, bn := strings.CutSuffix(cfg.Backbone, "_bn")
	l := vggConfigs[base]
	return slices.Clone(l[:len(l)-1]), bn
}

func (a vggArch) New(s *nn.Store, prefix string, cfg Config) Backbone {
	l, bn := a.layers(cfg)
	return newVGGNet(s, prefix, l, bn, cfg)
}

func (a vggArch) Channels(cfg Config) int64 { l, _ := a.layers(cfg); return vggChannels(l) }

func (a vggArch) FeatureSize(cfg Config, in int64) int64 {
	l, _ := a.layers(cfg)
	return vggFeatureSize(l, in)
}

// Pretrained takes a torchvision VGG state dict's features.* entries (their
// names are the backbone's) and skips its ImageNet classifier.*.
func (vggArch) Pretrained(source string, sd *weights.StateDict, cfg Config) (*weights.StateDict, error) {
	want := vggKeys(cfg.Backbone)
	out, err := weights.MatchKeys(source, sd, want, "classifier.")
	if err != nil {
		return nil, withBackboneHint(err, sd, cfg.Backbone, want)
	}
	return out, nil
}

// vggKeys lists the state-dict entries of a torchvision VGG's "features"
// module (name is one of vggTorchvision) in torchvision's order, with
// shapes and dtypes, for an RGB input: features.<i>.weight [out,in,3,3]
// and .bias [out] per conv, and for the _bn variants
// features.<i+1>.weight/.bias/.running_mean/.running_var [out] and
// .num_batches_tracked [] per BatchNorm2d. The indices are newVGGNet's.
func vggKeys(name string) []weights.KeyShape {
	base, bn := strings.CutSuffix(name, "_bn")
	var keys []weights.KeyShape
	add := func(i int, param string, dt weights.DType, shape ...int64) {
		keys = append(keys, weights.KeyShape{Name: fmt.Sprintf("features.%d.%s", i, param), Shape: shape, DType: dt})
	}
	in, idx := int64(3), 0
	for _, v := range vggConfigs[base] {
		if v == Pool {
			idx++
			continue
		}
		add(idx, "weight", weights.F32, v, in, 3, 3)
		add(idx, "bias", weights.F32, v)
		idx += 2
		if bn {
			for _, p := range []string{"weight", "bias", "running_mean", "running_var"} {
				add(idx-1, p, weights.F32, v)
			}
			add(idx-1, "num_batches_tracked", weights.I64)
			idx++
		}
		in = v
	}
	return keys
}

// Detect names the torchvision VGG whose features.* entries (names and
// shapes) sd holds exactly, whatever its other keys, with what racnn builds
// when that is a VGG it does not build (vgg11, vgg13).
func (a vggArch) Detect(sd *weights.StateDict) string {
	var have []string
	for k := range sd.All() {
		if strings.HasPrefix(k, "features.") {
			have = append(have, k)
		}
	}
	for _, name := range vggTorchvision {
		want := vggKeys(name)
		if len(want) != len(have) || slices.ContainsFunc(want, func(ks weights.KeyShape) bool {
			t, ok := sd.Get(ks.Name)
			return !ok || !slices.Equal(t.Shape, ks.Shape)
		}) {
			continue
		}
		if !slices.Contains(a.Names(), name) {
			name += " (racnn builds " + strings.Join(a.Names(), ", ") + ")"
		}
		return name
	}
	return ""
}

// vggNet is a VGG-style feature extractor laid out as torchvision's
// nn.Sequential "features": each conv takes one index, its BatchNorm2d (the
// _bn variants) the next, its ReLU the next, each max-pool one. So the
// parameters are "<prefix>.features.<i>.weight" exactly where torchvision's
// state_dict has them.
type vggNet struct {
	layers []vggLayer
}

type vggLayer struct {
	conv *nn.Conv2d      // nil for a pool
	bn   *nn.BatchNorm2d // nil without batch norm
}

// newVGGNet registers the convs of l (Pool for a 2×2 max-pool) under
// prefix + ".features.".
func newVGGNet(s *nn.Store, prefix string, l []int64, bn bool, cfg Config) *vggNet {
	b := &vggNet{}
	in, idx := int64(3), 0
	for _, v := range l {
		if v == Pool {
			b.layers = append(b.layers, vggLayer{})
			idx++
			continue
		}
		name := fmt.Sprintf("%s.features.%d", prefix, idx)
		// torchvision VGG: kaiming_normal_(fan_out, relu), bias 0; BN weight 1, bias 0.
		c := nn.NewConv2d(s, name, in, v, 3, torch.Conv2dOpts{Padding: [2]int64{1, 1}}, true,
			nn.KaimingNormalFanOut, nn.Zeros)
		ly := vggLayer{conv: c}
		idx += 2
		if bn {
			ly.bn = newBatchNorm(s, fmt.Sprintf("%s.features.%d", prefix, idx-1), v, cfg)
			idx++
		}
		b.layers = append(b.layers, ly)
		in = v
	}
	return b
}

// Forward maps x to the last conv block's features (after its ReLU).
func (b *vggNet) Forward(x *torch.Tensor, bnTrain bool) *torch.Tensor {
	c := newChain(x)
	for _, l := range b.layers {
		if l.conv == nil {
			c.next(torch.MaxPool2d(c.cur, [2]int64{2, 2}, [2]int64{2, 2}, [2]int64{}, false))
			continue
		}
		c.next(l.conv.Forward(c.cur))
		if l.bn != nil {
			c.next(l.bn.Forward(c.cur, bnTrain))
		}
		c.cur.ReluInPlace() // a fresh conv or BN output, as torchvision's inplace=True
	}
	return c.cur
}

// vggFeatureSize: each 2×2 max-pool floors the side by half.
func vggFeatureSize(l []int64, in int64) int64 {
	for _, v := range l {
		if v == Pool {
			in /= 2
		}
	}
	return in
}

func vggChannels(l []int64) int64 {
	ch := int64(0)
	for _, v := range l {
		if v != Pool {
			ch = v
		}
	}
	return ch
}
