package weights

import (
	"slices"
	"testing"
)

func TestMatchKeysOrderAndSharing(t *testing.T) {
	a, _ := FromFloat32([]int64{2}, []float32{1, 2})
	b, _ := FromFloat32([]int64{1}, []float32{3})
	sd := NewStateDict()
	sd.Set("head.fc", b) // skipped
	sd.Set("b", b)
	sd.Set("a", a)
	out, err := MatchKeys("m.safetensors", sd, []KeyShape{{"a", []int64{2}, F32}, {"b", []int64{1}, F32}}, "head.")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Keys(), []string{"a", "b"}) {
		t.Errorf("order %v", out.Keys())
	}
	if got, _ := out.Get("a"); got != a {
		t.Error("MatchKeys copied a tensor")
	}
	_, err = MatchKeys("m.safetensors", sd, []KeyShape{{"a", []int64{2}, F32}, {"c", []int64{1}, F32}})
	checkOneLine(t, err, "m.safetensors: ", "missing key c;", "unexpected keys head.fc, b")
}

// Floating-point entries of any float dtype pass (the caller converts); a
// float where an integer is expected does not, nor the reverse.
func TestMatchKeysDTypes(t *testing.T) {
	want := []KeyShape{{"bn.weight", []int64{2}, F32}, {"bn.num_batches_tracked", nil, I64}}
	sd := NewStateDict()
	sd.Set("bn.weight", &Tensor{DType: F16, Shape: []int64{2}})
	sd.Set("bn.num_batches_tracked", &Tensor{DType: I64})
	if _, err := MatchKeys("half.pth", sd, want); err != nil {
		t.Errorf("float16 weights: %v", err)
	}
	sd.Set("bn.num_batches_tracked", &Tensor{DType: F32})
	_, err := MatchKeys("half.pth", sd, want)
	checkOneLine(t, err, "half.pth: ", "bn.num_batches_tracked is F32 in the file, the model expects I64")
	sd.Set("bn.num_batches_tracked", &Tensor{DType: I64})
	sd.Set("bn.weight", &Tensor{DType: I64, Shape: []int64{2}})
	_, err = MatchKeys("half.pth", sd, want)
	checkOneLine(t, err, "half.pth: ", "bn.weight is I64 in the file, the model expects F32")
}
