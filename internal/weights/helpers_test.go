package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// debianPython is the interpreter with python3-torch and
// python3-torchvision; the python3 on PATH may lack them.
const debianPython = "/usr/bin/python3"

var (
	pyOnce sync.Once
	pyErr  error
)

// needTorch skips the test unless debianPython can import torch and
// torchvision.
func needTorch(t *testing.T) {
	t.Helper()
	pyOnce.Do(func() {
		pyErr = exec.Command(debianPython, "-c", "import torch, torchvision").Run()
	})
	if pyErr != nil {
		t.Skipf("%s with torch and torchvision not available: %v", debianPython, pyErr)
	}
}

// goldenTensor is one tensor as the Python fixture script recorded it.
type goldenTensor struct {
	DType  DType         `json:"dtype"`
	Shape  []int64       `json:"shape"`
	Values []json.Number `json:"values"`
}

// orderedGolden decodes a JSON object of goldenTensors, keeping key order.
func orderedGolden(t *testing.T, raw json.RawMessage) ([]string, map[string]goldenTensor) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	m := map[string]goldenTensor{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var g goldenTensor
		if err := dec.Decode(&g); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		m[tok.(string)] = g
	}
	return keys, m
}

type goldenFile struct {
	PTH                 json.RawMessage   `json:"pth"`
	PTHMetadataKeys     []string          `json:"pth_metadata_keys"`
	Safetensors         json.RawMessage   `json:"safetensors"`
	SafetensorsMetadata map[string]string `json:"safetensors_metadata"`
}

func readGolden(t *testing.T) goldenFile {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// checkGolden compares sd with the golden tensors exactly: names in order,
// dtypes, shapes and every value bit for bit.
func checkGolden(t *testing.T, sd *StateDict, keys []string, want map[string]goldenTensor) {
	t.Helper()
	if got := sd.Keys(); !slices.Equal(got, keys) {
		t.Errorf("keys\n got %v\nwant %v", got, keys)
	}
	for _, k := range keys {
		g := want[k]
		tn, ok := sd.Get(k)
		if !ok {
			t.Errorf("%s: missing", k)
			continue
		}
		if tn.DType != g.DType || !slices.Equal(tn.Shape, g.Shape) {
			t.Errorf("%s: got %s%v, want %s%v", k, tn.DType, tn.Shape, g.DType, g.Shape)
			continue
		}
		if err := tn.Validate(); err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		got := valueStrings(t, tn)
		for i, v := range g.Values {
			if w := canon(t, tn.DType, string(v)); got[i] != w {
				t.Errorf("%s[%d] = %s, want %s", k, i, got[i], w)
			}
		}
		if len(got) != len(g.Values) {
			t.Errorf("%s: %d values, want %d", k, len(got), len(g.Values))
		}
	}
}

// valueStrings renders each element exactly: floats as the bits of their
// float32/float64 value, integers in decimal.
func valueStrings(t *testing.T, tn *Tensor) []string {
	t.Helper()
	es := tn.DType.Size()
	out := make([]string, len(tn.Data)/es)
	for i := range out {
		b := tn.Data[i*es:]
		switch tn.DType {
		case F64:
			out[i] = strconv.FormatUint(binary.LittleEndian.Uint64(b), 16)
		case F32:
			out[i] = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b)), 16)
		case F16:
			out[i] = strconv.FormatUint(uint64(math.Float32bits(Float16ToFloat32(binary.LittleEndian.Uint16(b)))), 16)
		case BF16:
			out[i] = strconv.FormatUint(uint64(binary.LittleEndian.Uint16(b))<<16, 16)
		case I64:
			out[i] = strconv.FormatInt(int64(binary.LittleEndian.Uint64(b)), 10)
		case I32:
			out[i] = strconv.FormatInt(int64(int32(binary.LittleEndian.Uint32(b))), 10)
		case I16:
			out[i] = strconv.FormatInt(int64(int16(binary.LittleEndian.Uint16(b))), 10)
		case I8:
			out[i] = strconv.FormatInt(int64(int8(b[0])), 10)
		case U8, Bool:
			out[i] = strconv.FormatInt(int64(b[0]), 10)
		default:
			t.Fatalf("dtype %s", tn.DType)
		}
	}
	return out
}

// canon renders a golden JSON number the way valueStrings renders the
// element of that dtype.
func canon(t *testing.T, dt DType, s string) string {
	t.Helper()
	if dt.IsFloat() {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		if dt == F64 {
			return strconv.FormatUint(math.Float64bits(f), 16)
		}
		return strconv.FormatUint(uint64(math.Float32bits(float32(f))), 16)
	}
	return s
}

// checkOneLine fails unless err is non-nil, one line, starts with prefix
// and contains every fragment.
func checkOneLine(t *testing.T, err error, prefix string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one starting %q containing %q", prefix, fragments)
		return
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("error %q does not start with %q", msg, prefix)
	}
	for _, f := range fragments {
		if !strings.Contains(msg, f) {
			t.Errorf("error %q does not contain %q", msg, f)
		}
	}
}
