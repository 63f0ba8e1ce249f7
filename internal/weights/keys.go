package weights

import (
	"fmt"
	"slices"
	"strings"
)

// KeyShape is one expected state-dict entry. Each backbone in
// internal/model lists its torchvision entries as KeyShapes.
type KeyShape struct {
	Name  string
	Shape []int64
	DType DType // as torchvision stores it: F32, or I64 for num_batches_tracked
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
