package weights

import (
	"math"
	"slices"
	"testing"
)

func TestTensorConstructorsAndViews(t *testing.T) {
	f32, err := FromFloat32([]int64{2, 2}, []float32{1, -2.5, 3e-38, float32(math.Inf(1))})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f32.Float32s(); !slices.Equal(got, []float32{1, -2.5, 3e-38, float32(math.Inf(1))}) {
		t.Errorf("Float32s = %v", got)
	}
	v, err := f32.Float32View()
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 7 // a view shares Data
	if got, _ := f32.Float32s(); got[0] != 7 {
		t.Errorf("Float32View does not share Data")
	}
	if _, err := f32.Float64s(); err == nil {
		t.Error("Float64s on an F32 tensor: no error")
	}

	f64, _ := FromFloat64([]int64{3}, []float64{math.Pi, -0, 1e-310})
	if got, _ := f64.Float64s(); !slices.Equal(got, []float64{math.Pi, -0, 1e-310}) {
		t.Errorf("Float64s = %v", got)
	}
	if got, _ := f64.Float64View(); len(got) != 3 || got[0] != math.Pi {
		t.Errorf("Float64View = %v", got)
	}
	i64, _ := FromInt64(nil, []int64{math.MinInt64})
	if got, _ := i64.Int64s(); !slices.Equal(got, []int64{math.MinInt64}) || i64.NumElements() != 1 {
		t.Errorf("scalar Int64s = %v", got)
	}
	if got, _ := i64.Int64View(); !slices.Equal(got, []int64{math.MinInt64}) {
		t.Errorf("Int64View = %v", got)
	}

	if _, err := FromFloat32([]int64{2, 3}, make([]float32, 5)); err == nil {
		t.Error("FromFloat32 with 5 values for [2,3]: no error")
	}
	if _, err := NewTensor(F32, []int64{2}, make([]byte, 7)); err == nil {
		t.Error("NewTensor with 7 bytes for F32[2]: no error")
	}
	if _, err := NewTensor("F8", []int64{2}, make([]byte, 2)); err == nil {
		t.Error("NewTensor with dtype F8: no error")
	}
	if _, err := NewTensor(F32, []int64{-1}, nil); err == nil {
		t.Error("NewTensor with shape [-1]: no error")
	}
	// A misaligned sub-slice cannot be viewed, only copied.
	buf := make([]byte, 9)
	odd := &Tensor{DType: F64, Shape: []int64{1}, Data: buf[1:]}
	if _, err := odd.Float64View(); err == nil {
		t.Error("Float64View of misaligned data: no error")
	}
	if _, err := odd.Float64s(); err != nil {
		t.Error(err)
	}
	c := f32.Clone()
	c.Data[0] ^= 1
	if c.Data[0] == f32.Data[0] {
		t.Error("Clone shares Data")
	}
}

func TestFloat16ToFloat32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x3555, 0.33325195},
		{0x0001, 1.0 / (1 << 24)}, {0x03ff, 1023.0 / (1 << 24)}, {0x0400, 1.0 / (1 << 14)},
		{0x0000, 0}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := Float16ToFloat32(c.h); got != c.want {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", c.h, got, c.want)
		}
	}
	if got := Float16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("Float16ToFloat32(0x8000) = %g, want -0", got)
	}
	if got := Float16ToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("Float16ToFloat32(0x7e00) = %g, want NaN", got)
	}
}

func TestToFloat32s(t *testing.T) {
	half := &Tensor{DType: F16, Shape: []int64{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}}
	bf := &Tensor{DType: BF16, Shape: []int64{2}, Data: []byte{0x80, 0x3f, 0x49, 0xc0}}
	f64, _ := FromFloat64([]int64{1}, []float64{0.1})
	for _, c := range []struct {
		t    *Tensor
		want []float32
	}{
		{half, []float32{1, -2}},
		{bf, []float32{1, -3.140625}},
		{f64, []float32{0.1}},
	} {
		got, err := c.t.ToFloat32s()
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s ToFloat32s = %v, %v; want %v", c.t.DType, got, err, c.want)
		}
	}
	i64, _ := FromInt64([]int64{1}, []int64{1})
	if _, err := i64.ToFloat32s(); err == nil {
		t.Error("ToFloat32s of I64: no error")
	}
}

func TestStateDictOrder(t *testing.T) {
	sd := NewStateDict()
	a, _ := FromFloat32([]int64{1}, []float32{1})
	b, _ := FromFloat32([]int64{1}, []float32{2})
	sd.Set("z", a)
	sd.Set("a", a)
	sd.Set("m", a)
	sd.Set("a", b) // replacing keeps the position
	if got := sd.Keys(); !slices.Equal(got, []string{"z", "a", "m"}) {
		t.Errorf("Keys = %v", got)
	}
	if got, _ := sd.Get("a"); got != b {
		t.Error("Set did not replace")
	}
	if !sd.Delete("z") || sd.Delete("z") || sd.Len() != 2 {
		t.Error("Delete")
	}
	var seen []string
	for k := range sd.All() {
		seen = append(seen, k)
	}
	if !slices.Equal(seen, []string{"a", "m"}) {
		t.Errorf("All = %v", seen)
	}
}
