package model

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// resNetArch is torchvision's ResNet-50 and ResNet-101
// (torchvision/models/resnet.py): a 7×7 stride-2 stem conv1 → bn1 → ReLU
// → 3×3 stride-2 max-pool, then layer1..layer4 of bottleneck blocks
// (1×1 → 3×3 → 1×1 convolutions, each followed by batch norm, the first
// block of a stage projecting its input with downsample.0 (1×1 conv) and
// downsample.1 (batch norm)), the stride of a stage on its first block's
// 3×3 conv as in torchvision's "v1.5". The features are layer4's output:
// 2048 channels, stride 32 (14×14 at 448 px, 7×7 at 224); torchvision's
// avgpool and fc are left out, the scale's own pooling and classifier
// follow. Parameters carry torchvision's state_dict names under
// "scaleK.features." ("scale1.features.layer4.2.conv3.weight"), and
// ImageNet weights load from torchvision's .pth files and timm's
// safetensors, whose ResNet keys are torchvision's (timm names the
// ImageNet classifier fc as torchvision does; it is skipped).
type resNetArch struct{}

// resNetDepths are the bottleneck blocks per stage (torchvision's layers).
var resNetDepths = map[string][4]int{
	"resnet50":  {3, 4, 6, 3},
	"resnet101": {3, 4, 23, 3},
}

func (resNetArch) Names() []string { return []string{"resnet50", "resnet101"} }

func (resNetArch) Validate(cfg Config) error {
	if len(cfg.SmallChannels) > 0 {
		return fmt.Errorf("model: small_channels is only used by the small backbones, not %s; remove it", cfg.Backbone)
	}
	return nil
}

func (resNetArch) Channels(Config) int64 { return 2048 }

// FeatureSize: the stem conv, the max-pool and the first 3×3 conv of
// layer2, layer3 and layer4 each take a side x to ⌊(x − 1)/2⌋ + 1.
func (resNetArch) FeatureSize(_ Config, in int64) int64 {
	if in < 1 {
		return 0
	}
	for range 5 {
		in = (in-1)/2 + 1
	}
	return in
}

// resNet is the built backbone.
type resNet struct {
	conv1  *nn.Conv2d
	bn1    *nn.BatchNorm2d
	stages [4][]*bottleneck
}

type bottleneck struct {
	conv1, conv2, conv3 *nn.Conv2d
	bn1, bn2, bn3       *nn.BatchNorm2d
	down                *nn.Conv2d // nil when the block's input has its output's shape
	downBN              *nn.BatchNorm2d
}

func (resNetArch) New(s *nn.Store, prefix string, cfg Config) Backbone {
	p := prefix + ".features."
	// torchvision: kaiming_normal_(fan_out, relu) for every conv (no bias),
	// batch norm weight 1 and bias 0.
	conv := func(name string, in, out, k, stride int64) *nn.Conv2d {
		return nn.NewConv2d(s, p+name, in, out, k, torch.Conv2dOpts{Stride: [2]int64{stride, stride}, Padding: [2]int64{k / 2, k / 2}},
			false, nn.KaimingNormalFanOut, nil)
	}
	bn := func(name string, c int64) *nn.BatchNorm2d { return newBatchNorm(s, p+name, c, cfg) }
	r := &resNet{conv1: conv("conv1", 3, 64, 7, 2), bn1: bn("bn1", 64)}
	in := int64(64)
	for st, n := range resNetDepths[cfg.Backbone] {
		width := int64(64) << st
		for i := range n {
			name := fmt.Sprintf("layer%d.%d.", st+1, i)
			stride := int64(1)
			if i == 0 && st > 0 {
				stride = 2
			}
			b := &bottleneck{
				conv1: conv(name+"conv1", in, width, 1, 1), bn1: bn(name+"bn1", width),
				conv2: conv(name+"conv2", width, width, 3, stride), bn2: bn(name+"bn2", width),
				conv3: conv(name+"conv3", width, 4*width, 1, 1), bn3: bn(name+"bn3", 4*width),
			}
			if i == 0 {
				b.down, b.downBN = conv(name+"downsample.0", in, 4*width, 1, stride), bn(name+"downsample.1", 4*width)
			}
			r.stages[st] = append(r.stages[st], b)
			in = 4 * width
		}
	}
	return r
}

// Forward maps x to layer4's output (after its last ReLU).
func (r *resNet) Forward(x *torch.Tensor, bnTrain bool) *torch.Tensor {
	c := newChain(x)
	c.next(r.conv1.Forward(c.cur))
	c.next(r.bn1.Forward(c.cur, bnTrain))
	c.cur.ReluInPlace()
	c.next(torch.MaxPool2d(c.cur, [2]int64{3, 3}, [2]int64{2, 2}, [2]int64{1, 1}, false))
	for _, st := range r.stages {
		for _, b := range st {
			c.next(b.forward(c.cur, bnTrain))
		}
	}
	return c.cur
}

// forward is torchvision's Bottleneck.forward.
func (b *bottleneck) forward(x *torch.Tensor, bnTrain bool) *torch.Tensor {
	c := newChain(x)
	c.next(b.conv1.Forward(c.cur))
	c.next(b.bn1.Forward(c.cur, bnTrain))
	c.cur.ReluInPlace()
	c.next(b.conv2.Forward(c.cur))
	c.next(b.bn2.Forward(c.cur, bnTrain))
	c.cur.ReluInPlace()
	c.next(b.conv3.Forward(c.cur))
	c.next(b.bn3.Forward(c.cur, bnTrain))
	id := x
	if b.down != nil {
		d := b.down.Forward(x)
		id = b.downBN.Forward(d, bnTrain)
		d.Free()
	}
	// Out of place: the binding's in-place add is outside autograd. The
	// sum is fresh, so the ReLU below may still work in place.
	c.next(c.cur.Add(id))
	if id != x {
		id.Free()
	}
	c.cur.ReluInPlace()
	return c.cur
}

// resNetKeys lists torchvision's state_dict entries of a ResNet up to
// layer4, in torchvision's order, with shapes and dtypes.
func resNetKeys(name string) []weights.KeyShape {
	var keys []weights.KeyShape
	add := func(n string, shape ...int64) {
		keys = append(keys, weights.KeyShape{Name: n, Shape: shape, DType: weights.F32})
	}
	bn := func(n string, c int64) {
		for _, p := range []string{"weight", "bias", "running_mean", "running_var"} {
			add(n+"."+p, c)
		}
		keys = append(keys, weights.KeyShape{Name: n + ".num_batches_tracked", DType: weights.I64})
	}
	add("conv1.weight", 64, 3, 7, 7)
	bn("bn1", 64)
	in := int64(64)
	for st, n := range resNetDepths[name] {
		w := int64(64) << st
		for i := range n {
			p := fmt.Sprintf("layer%d.%d.", st+1, i)
			add(p+"conv1.weight", w, in, 1, 1)
			bn(p+"bn1", w)
			add(p+"conv2.weight", w, w, 3, 3)
			bn(p+"bn2", w)
			add(p+"conv3.weight", 4*w, w, 1, 1)
			bn(p+"bn3", 4*w)
			if i == 0 {
				add(p+"downsample.0.weight", 4*w, in, 1, 1)
				bn(p+"downsample.1", 4*w)
			}
			in = 4 * w
		}
	}
	return keys
}

// Pretrained maps a torchvision or timm ResNet state dict onto the
// backbone: key k becomes "features."+k, the ImageNet classifier fc.* is
// skipped. num_batches_tracked may be absent from every batch norm, as in
// torchvision's original ImageNet files (saved before PyTorch had the
// counter); the model's counters then stay 0, which nothing reads.
func (resNetArch) Pretrained(source string, sd *weights.StateDict, cfg Config) (*weights.StateDict, error) {
	want := resNetKeys(cfg.Backbone)
	if !slices.ContainsFunc(sd.Keys(), func(k string) bool { return strings.HasSuffix(k, ".num_batches_tracked") }) {
		want = slices.DeleteFunc(want, func(k weights.KeyShape) bool { return strings.HasSuffix(k.Name, ".num_batches_tracked") })
	}
	got, err := weights.MatchKeys(source, sd, want, "fc.")
	if err != nil {
		return nil, withBackboneHint(err, sd, cfg.Backbone, want)
	}
	out := weights.NewStateDict()
	for k, t := range got.All() {
		out.Set("features."+k, t)
	}
	return out, nil
}

var resNetBlockKey = regexp.MustCompile(`^layer([1-4])\.(\d+)\.conv([123])\.weight$`)

// Detect names the torchvision ResNet whose layout sd's keys have
// ("resnet50"), or describes the ResNet-like layout racnn does not build
// ("resnet34 (basic blocks)"), or returns "".
func (resNetArch) Detect(sd *weights.StateDict) string {
	if _, ok := sd.Get("conv1.weight"); !ok {
		if _, deep := sd.Get("conv1.0.weight"); deep {
			return "ResNet with a deep stem (conv1.0, conv1.1, ...: timm's resnet50d and the like)"
		}
		return ""
	}
	var blocks [4]int
	bottle := false
	for k := range sd.All() {
		m := resNetBlockKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		st, _ := strconv.Atoi(m[1])
		i, _ := strconv.Atoi(m[2])
		blocks[st-1] = max(blocks[st-1], i+1)
		bottle = bottle || m[3] == "3"
	}
	if blocks[0] == 0 {
		return ""
	}
	depth := map[[4]int]int{{2, 2, 2, 2}: 18, {3, 4, 6, 3}: 34}
	if bottle {
		depth = map[[4]int]int{{3, 4, 6, 3}: 50, {3, 4, 23, 3}: 101, {3, 8, 36, 3}: 152}
	}
	d, ok := depth[blocks]
	switch {
	case !ok:
		return fmt.Sprintf("ResNet with %v blocks per stage", blocks)
	case !bottle:
		return fmt.Sprintf("resnet%d (basic blocks, which racnn does not build)", d)
	}
	name := fmt.Sprintf("resnet%d", d)
	if w, ok := sd.Get("layer1.0.conv2.weight"); ok && len(w.Shape) == 4 && (w.Shape[0] != 64 || w.Shape[1] != 64) {
		return name + " of another width or grouping (wide_resnet or resnext, which racnn does not build)"
	}
	if _, known := resNetDepths[name]; !known {
		return name + " (racnn builds " + strings.Join(resNetArch{}.Names(), " and ") + ")"
	}
	return name
}
