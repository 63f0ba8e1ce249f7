package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSafetensorsPythonToGo reads a file written by
// scripts/make_weight_fixtures.py (safetensors_tensors and
// write_safetensors there) and checks every value exactly.
func TestSafetensorsPythonToGo(t *testing.T) {
	g := readGolden(t)
	sd, meta, err := ReadSafetensorsFile("testdata/tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	_, want := orderedGolden(t, g.Safetensors)
	// The file's (header) order is the writer's: by dtype alignment, then name.
	order := []string{"count", "long", "double", "conv.bias", "conv.weight", "empty", "int", "brain", "half", "bytes"}
	checkGolden(t, sd, order, want)
	if !maps.Equal(meta, g.SafetensorsMetadata) {
		t.Errorf("metadata = %v, want %v", meta, g.SafetensorsMetadata)
	}
	if s, _ := sd.Get("count"); len(s.Shape) != 0 || s.NumElements() != 1 {
		t.Errorf("scalar count has shape %v", s.Shape)
	}
}

// TestSafetensorsRewriteIsIdentical: writing what was read from the Python
// file gives the same bytes, so the writer lays files out as the reference
// writer does (order, compact JSON, padding).
func TestSafetensorsRewriteIsIdentical(t *testing.T) {
	orig, err := os.ReadFile("testdata/tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	sd, meta, err := ReadSafetensors(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, sd, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Errorf("rewritten file differs:\n got %q\nwant %q", buf.Bytes()[:min(buf.Len(), 300)], orig[:min(len(orig), 300)])
	}
}

// allDTypes is a StateDict with every dtype, a scalar, an empty tensor and
// awkward names, in insertion order that the writer will change.
func allDTypes(t *testing.T) *StateDict {
	t.Helper()
	sd := NewStateDict()
	must := func(tn *Tensor, err error) *Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	sd.Set("z.f32", must(FromFloat32([]int64{2, 3}, []float32{0.1, -0.2, 3, 4e-39, -0, 1e38})))
	sd.Set("a.f64", must(FromFloat64([]int64{2}, []float64{1.0 / 3, -1e-300})))
	sd.Set("features.0.num_batches_tracked", must(FromInt64(nil, []int64{12345})))
	sd.Set("i64", must(FromInt64([]int64{3}, []int64{-1 << 63, 1<<63 - 1, 0})))
	sd.Set("f16", must(NewTensor(F16, []int64{3}, []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b})))
	sd.Set("bf16", must(NewTensor(BF16, []int64{2}, []byte{0x80, 0x3f, 0x49, 0xc0})))
	sd.Set("i32", must(NewTensor(I32, []int64{2}, []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})))
	sd.Set("i16", must(NewTensor(I16, []int64{1}, []byte{0xfe, 0xff})))
	sd.Set("i8", must(NewTensor(I8, []int64{2}, []byte{0x80, 0x7f})))
	sd.Set("u8", must(NewTensor(U8, []int64{3}, []byte{0, 128, 255})))
	sd.Set("bool", must(NewTensor(Bool, []int64{2}, []byte{1, 0})))
	sd.Set("empty", must(FromFloat32([]int64{0, 4}, nil)))
	sd.Set(`name "with" quotes/<and>&ünïcode`, must(FromFloat32([]int64{1}, []float32{5})))
	return sd
}

var testMeta = map[string]string{
	"format":               "pt",
	"racnn.format_version": "1",
	"racnn.config":         "model:\n  backbone: vgg19 # <&> \"quoted\"\n",
}

func TestSafetensorsGoRoundTrip(t *testing.T) {
	sd := allDTypes(t)
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteFileAtomic(path, sd, testMeta); err != nil {
		t.Fatal(err)
	}
	got, meta, err := ReadSafetensorsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(meta, testMeta) {
		t.Errorf("metadata = %q", meta)
	}
	want := sd.Keys()
	slices.SortFunc(want, func(a, b string) int {
		ta, _ := sd.Get(a)
		tb, _ := sd.Get(b)
		if d := stRank[tb.DType] - stRank[ta.DType]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	if !slices.Equal(got.Keys(), want) {
		t.Errorf("order = %q, want %q", got.Keys(), want)
	}
	for k, tn := range sd.All() {
		g, ok := got.Get(k)
		if !ok || g.DType != tn.DType || !slices.Equal(g.Shape, tn.Shape) || !bytes.Equal(g.Data, tn.Data) {
			t.Errorf("%s: got %+v, want %+v", k, g, tn)
		}
	}
	// Without metadata the header has no __metadata__ entry.
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, sd, nil); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("__metadata__")) {
		t.Error("empty metadata written")
	}
	if _, m, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil || m == nil || len(m) != 0 {
		t.Errorf("metadata of a file without any: %v, %v", m, err)
	}
}

// TestSafetensorsGoToPython writes a file in Go and reads it in Python
// (testdata/check_safetensors.py: spec layout checks + torch.frombuffer).
func TestSafetensorsGoToPython(t *testing.T) {
	needTorch(t)
	sd := allDTypes(t)
	path := filepath.Join(t.TempDir(), "go.safetensors")
	if err := WriteFileAtomic(path, sd, testMeta); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(debianPython, "testdata/check_safetensors.py", path).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res struct {
		Metadata map[string]string `json:"metadata"`
		Order    []string          `json:"order"`
		Tensors  json.RawMessage   `json:"tensors"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !maps.Equal(res.Metadata, testMeta) {
		t.Errorf("python metadata = %q", res.Metadata)
	}
	_, want := orderedGolden(t, res.Tensors)
	if len(want) != sd.Len() {
		t.Errorf("python read %d tensors, want %d", len(want), sd.Len())
	}
	// Python's values, in Python's (header) order, must equal what Go wrote.
	reordered := NewStateDict()
	for _, k := range res.Order {
		tn, ok := sd.Get(k)
		if !ok {
			t.Fatalf("python read unknown tensor %q", k)
		}
		reordered.Set(k, tn)
	}
	checkGolden(t, reordered, res.Order, want)
}

func TestWriteFileAtomicKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	good := allDTypes(t)
	if err := WriteFileAtomic(path, good, testMeta); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	bad := allDTypes(t)
	tn, _ := bad.Get("z.f32")
	tn.Data = tn.Data[:len(tn.Data)-1] // invalid: fails after the temp file exists
	err := WriteFileAtomic(path, bad, nil)
	checkOneLine(t, err, "write "+path, "z.f32")

	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed write changed the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only model.safetensors (temp file left behind)", names)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}

	err = WriteFileAtomic(filepath.Join(dir, "no/such/dir/x.safetensors"), good, nil)
	checkOneLine(t, err, "write "+filepath.Join(dir, "no/such/dir/x.safetensors"))
}

func TestSafetensorsTruncated(t *testing.T) {
	orig, err := os.ReadFile("testdata/tiny.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint64(orig))
	dir := t.TempDir()
	for _, cut := range []int{0, 5, 8, 9, 8 + n/2, 8 + n, 8 + n + 1, len(orig) - 1} {
		path := filepath.Join(dir, "cut.safetensors")
		if err := os.WriteFile(path, orig[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadSafetensorsFile(path)
		checkOneLine(t, err, path+": ", "truncated")
	}
}

func TestSafetensorsCorrupt(t *testing.T) {
	dir := t.TempDir()
	file := func(header string, data int) []byte {
		for (8+len(header))%8 != 0 {
			header += " "
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		b = append(b, header...)
		return append(b, make([]byte, data)...)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"not json", file("[1,2]", 0), "not a JSON object"},
		{"bad json", file(`{"a":`, 0), "invalid safetensors header"},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "gap or overlap"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "gap or overlap"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8 bytes"},
		{"unknown dtype", file(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1), "dtype F8_E4M3"},
		{"missing field", file(`{"a":{"dtype":"F32","shape":[1]}}`, 4), "needs dtype, shape and data_offsets"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0), "invalid shape"},
		{"duplicate", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "twice"},
		{"trailing", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 3), "2 bytes after the last tensor"},
		{"metadata not strings", file(`{"__metadata__":{"epoch":3}}`, 0), "__metadata__ must map strings to strings"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "over the"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
		if err := os.WriteFile(path, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadSafetensorsFile(path)
		checkOneLine(t, err, path+": ", c.want)
	}
}
