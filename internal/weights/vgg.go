package weights

import (
	"fmt"
	"slices"
	"strings"
)

// VGGPool marks a 2×2 max-pool in a VGG configuration; other entries are
// the output channels of a 3×3 convolution (padding 1) followed by ReLU,
// or by BatchNorm2d then ReLU in the _bn variants.
const VGGPool = -1

// vggCfgs are torchvision's VGG configurations (torchvision/models/vgg.py,
// cfgs "A", "B", "D", "E").
var vggCfgs = map[string][]int{
	"A": {64, VGGPool, 128, VGGPool, 256, 256, VGGPool, 512, 512, VGGPool, 512, 512, VGGPool},
	"B": {64, 64, VGGPool, 128, 128, VGGPool, 256, 256, VGGPool, 512, 512, VGGPool, 512, 512, VGGPool},
	"D": {64, 64, VGGPool, 128, 128, VGGPool, 256, 256, 256, VGGPool, 512, 512, 512, VGGPool, 512, 512, 512, VGGPool},
	"E": {64, 64, VGGPool, 128, 128, VGGPool, 256, 256, 256, 256, VGGPool, 512, 512, 512, 512, VGGPool, 512, 512, 512, 512, VGGPool},
}

var vggArchCfg = map[string]string{"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}

// VGGNames lists the torchvision VGG names this package knows, smallest
// first: vgg11, vgg11_bn, vgg13, ..., vgg19_bn.
func VGGNames() []string {
	return []string{"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}
}

// VGGConfig returns the layer configuration of a torchvision VGG ("vgg16",
// "vgg19_bn", ...): conv output channels with VGGPool for max-pools, and
// whether each conv is followed by BatchNorm2d.
func VGGConfig(name string) (cfg []int, batchNorm bool, err error) {
	base, bn := strings.CutSuffix(name, "_bn")
	c, ok := vggArchCfg[base]
	if !ok {
		return nil, false, fmt.Errorf("unknown VGG %q (known: %s)", name, strings.Join(VGGNames(), ", "))
	}
	return slices.Clone(vggCfgs[c]), bn, nil
}

// KeyShape is one expected state-dict entry.
type KeyShape struct {
	Name  string
	Shape []int64
	DType DType // as torchvision stores it: F32, or I64 for num_batches_tracked
}

// VGGFeatureKeys lists the state-dict entries of a torchvision VGG's
// "features" module in torchvision's order, with their shapes, for an RGB
// input: features.<i>.weight [out,in,3,3] and .bias [out] per conv, and for
// _bn variants features.<i+1>.weight/.bias/.running_mean/.running_var [out]
// and .num_batches_tracked [] per BatchNorm2d. Indices follow
// torchvision's nn.Sequential: a conv, (BN,) ReLU; a pool takes one index.
func VGGFeatureKeys(name string) ([]KeyShape, error) {
	cfg, bn, err := VGGConfig(name)
	if err != nil {
		return nil, err
	}
	var keys []KeyShape
	in, idx := int64(3), 0
	add := func(i int, param string, dt DType, shape ...int64) {
		keys = append(keys, KeyShape{Name: fmt.Sprintf("features.%d.%s", i, param), Shape: shape, DType: dt})
	}
	for _, v := range cfg {
		if v == VGGPool {
			idx++
			continue
		}
		out := int64(v)
		add(idx, "weight", F32, out, in, 3, 3)
		add(idx, "bias", F32, out)
		if bn {
			add(idx+1, "weight", F32, out)
			add(idx+1, "bias", F32, out)
			add(idx+1, "running_mean", F32, out)
			add(idx+1, "running_var", F32, out)
			add(idx+1, "num_batches_tracked", I64)
			idx += 3
		} else {
			idx += 2
		}
		in = out
	}
	return keys, nil
}

// DetectVGG names the torchvision VGG whose features.* entries (names and
// shapes) sd holds exactly, ignoring every other key, or returns "".
func DetectVGG(sd *StateDict) string {
	var have []string
	for k := range sd.All() {
		if strings.HasPrefix(k, "features.") {
			have = append(have, k)
		}
	}
	slices.Sort(have)
	for _, name := range VGGNames() {
		want, _ := VGGFeatureKeys(name)
		if len(want) != len(have) {
			continue
		}
		ok := true
		for _, ks := range want {
			t, found := sd.Get(ks.Name)
			if !found || !slices.Equal(t.Shape, ks.Shape) {
				ok = false
				break
			}
		}
		if ok {
			return name
		}
	}
	return ""
}

// MatchKeys checks sd against the entries a model expects and returns them
// as a new StateDict in want's order (the tensors are shared, not copied).
// Keys of sd that start with one of skipPrefixes are ignored. Any missing,
// unexpected or mis-shaped key, or a dtype of the wrong kind (a float where
// an integer is expected or the reverse), is an error naming the keys,
// prefixed with source (typically the file name). Floating-point entries
// may be of any float dtype (F32, F64, F16, BF16); the caller converts them
// with Tensor.ToFloat32s where it needs float32.
func MatchKeys(source string, sd *StateDict, want []KeyShape, skipPrefixes ...string) (*StateDict, error) {
	out := NewStateDict()
	wanted := make(map[string]bool, len(want))
	var missing, misShaped []string
	for _, ks := range want {
		wanted[ks.Name] = true
		t, ok := sd.Get(ks.Name)
		switch {
		case !ok:
			missing = append(missing, ks.Name)
		case !slices.Equal(t.Shape, ks.Shape):
			misShaped = append(misShaped, fmt.Sprintf("%s has shape %s in the file, the model expects %s", ks.Name, fmtShape(t.Shape), fmtShape(ks.Shape)))
		case t.DType.IsFloat() != ks.DType.IsFloat():
			misShaped = append(misShaped, fmt.Sprintf("%s is %s in the file, the model expects %s", ks.Name, t.DType, ks.DType))
		default:
			out.Set(ks.Name, t)
		}
	}
	var unexpected []string
	for k := range sd.All() {
		if wanted[k] || slices.ContainsFunc(skipPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		unexpected = append(unexpected, k)
	}
	if len(missing)+len(misShaped)+len(unexpected) == 0 {
		return out, nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing %s %s", plural(len(missing), "key"), listKeys(missing, 4)))
	}
	if len(unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("unexpected %s %s", plural(len(unexpected), "key"), listKeys(unexpected, 4)))
	}
	if len(misShaped) > 0 {
		parts = append(parts, listKeys(misShaped, 2))
	}
	return nil, fmt.Errorf("%s: %s", source, strings.Join(parts, "; "))
}

func fmtShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// ImportVGG checks a torchvision VGG state dict (for instance the ImageNet
// weights vgg19-dcbb9e9d.pth, read with ReadFile) against the backbone
// named by backbone (see VGGNames) and returns its features.* entries in
// torchvision order. The ImageNet classifier.* entries are dropped. On a
// mismatch the error names the keys and, where the file's keys reveal
// another VGG or a known wrapping, says which setting to change, e.g.
//
//	vgg19.pth: missing keys features.16.weight, ...; this looks like a vgg16 state dict — set model.backbone to vgg16
func ImportVGG(source string, sd *StateDict, backbone string) (*StateDict, error) {
	want, err := VGGFeatureKeys(backbone)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	out, err := MatchKeys(source, sd, want, "classifier.")
	if err == nil {
		return out, nil
	}
	msg := err.Error()
	switch got := DetectVGG(sd); {
	case got != "" && got != backbone:
		msg += fmt.Sprintf("; this looks like a %s state dict — set model.backbone to %s", got, got)
	case got == "" && hasPrefix(sd, "module.features."):
		msg += `; the keys start with "module." (saved from a DataParallel model): in Python save model.module.state_dict() instead`
	case got == "" && !hasPrefix(sd, "features."):
		first := sd.Keys()
		if len(first) > 3 {
			first = first[:3]
		}
		msg += fmt.Sprintf("; this is not a torchvision VGG state dict (its keys start %s)", strings.Join(first, ", "))
	}
	return nil, fmt.Errorf("%s", msg)
}

func hasPrefix(sd *StateDict, p string) bool {
	for k := range sd.All() {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
