package weights

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The fixtures come from scripts/make_weight_fixtures.py. tiny.pth mirrors
//
//	m = nn.Sequential(nn.Conv2d(2, 3, kernel_size=2), nn.BatchNorm2d(3))
//	sd = m.state_dict()   # OrderedDict with _metadata, fixed values
//	base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8
//	sd["extra.transposed"] = base.t()          # stride (1, 4)
//	sd["extra.slice"] = base[1:, 1:3]          # offset 5, same storage
//	sd["extra.expanded"] = torch.tensor([1., 2., 3.]).expand(2, 3)  # stride (0, 1)
//	sd["extra.permuted"] = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4).permute(2, 0, 1)
//	... float64, float16, bfloat16, int64, int32, uint8 tensors
//	torch.save(sd, buf)

func TestReadPyTorchZip(t *testing.T) {
	g := readGolden(t)
	keys, want := orderedGolden(t, g.PTH)
	sd, err := ReadPyTorchFile("testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, sd, keys, want)
	if len(g.PTHMetadataKeys) == 0 {
		t.Error("fixture has no _metadata; regenerate it")
	}
}

func TestReadPyTorchLegacy(t *testing.T) {
	g := readGolden(t)
	keys, want := orderedGolden(t, g.PTH)
	sd, err := ReadPyTorchFile("testdata/tiny_legacy.pth")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, sd, keys, want)
}

func TestReadFileDispatch(t *testing.T) {
	for _, f := range []string{"tiny.pth", "tiny_legacy.pth", "tiny.safetensors"} {
		sd, meta, err := ReadFile(filepath.Join("testdata", f))
		if err != nil || sd.Len() == 0 || meta == nil {
			t.Errorf("ReadFile(%s) = %d tensors, %v, %v", f, sd.Len(), meta, err)
		}
	}
	// A truncated safetensors file still reads as one, whatever the cut.
	orig, _ := os.ReadFile("testdata/tiny.safetensors")
	path := filepath.Join(t.TempDir(), "cut.safetensors")
	for _, cut := range []int{0, 5, 9, 100, len(orig) - 1} {
		os.WriteFile(path, orig[:cut], 0o644)
		_, _, err := ReadFile(path)
		checkOneLine(t, err, path+": ", "truncated")
	}
}

// Views of one storage come back as separate dense tensors.
func TestPyTorchViewsDoNotAlias(t *testing.T) {
	sd, err := ReadPyTorchFile("testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := sd.Get("extra.transposed")
	sl, _ := sd.Get("extra.slice")
	before, _ := sl.Float32s()
	for i := range tr.Data {
		tr.Data[i] = 0xff
	}
	if after, _ := sl.Float32s(); !slices.Equal(before, after) {
		t.Error("writing one view changed another")
	}
}

func TestPyTorchTruncated(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"tiny.pth", "tiny_legacy.pth"} {
		orig, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{1, 3, 30, len(orig) / 3, len(orig) / 2, len(orig) - 30, len(orig) - 1} {
			path := filepath.Join(dir, "cut_"+f)
			if err := os.WriteFile(path, orig[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadPyTorchFile(path)
			checkOneLine(t, err, path+": ")
			if _, _, err := ReadFile(path); err == nil {
				t.Errorf("ReadFile(%s cut at %d): no error", f, cut)
			}
		}
	}
	// A zip cut anywhere loses its central directory.
	orig, _ := os.ReadFile("testdata/tiny.pth")
	path := filepath.Join(dir, "half.pth")
	os.WriteFile(path, orig[:len(orig)/2], 0o644)
	_, err := ReadPyTorchFile(path)
	checkOneLine(t, err, path+": ", "not a readable zip archive", "truncated or corrupt", "download it again")
	path = filepath.Join(dir, "empty.pth")
	os.WriteFile(path, nil, 0o644)
	_, err = ReadPyTorchFile(path)
	checkOneLine(t, err, path+": ", "empty", "truncated")
}

// rezip copies testdata/tiny.pth to a new archive, letting edit drop (nil)
// or change each record's content.
func rezip(t *testing.T, path string, edit func(name string, b []byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader("testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if b = edit(f.Name, b); b == nil {
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		w.Write(b)
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPyTorchNotAStateDict(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pth")
	rezip(t, missing, func(name string, b []byte) []byte {
		if name == "archive/data/3" {
			return nil
		}
		return b
	})
	short := filepath.Join(dir, "short.pth")
	rezip(t, short, func(name string, b []byte) []byte {
		if name == "archive/data/0" {
			return b[:len(b)-4]
		}
		return b
	})
	garbage := filepath.Join(dir, "garbage.pth")
	os.WriteFile(garbage, []byte("<html>404 not found</html>"), 0o644)
	safet := filepath.Join(dir, "st.pth")
	b, _ := os.ReadFile("testdata/tiny.safetensors")
	os.WriteFile(safet, b, 0o644)

	for _, c := range []struct {
		path  string
		wants []string
	}{
		{"testdata/not_torch.zip", []string{"not written by torch.save", "torch.save(model.state_dict(), path)"}},
		{"testdata/list.pth", []string{"holds a list, not a state dict", "torch.save(model.state_dict(), path)"}},
		{"testdata/module.pth", []string{"a pickled torch.nn.modules.linear.Linear object (a whole model?)", "model.state_dict()"}},
		{"testdata/checkpoint.pth", []string{"entries model, epoch are not tensors", `under "model"`, `torch.save(ckpt["model"], path)`}},
		{missing, []string{"storage record archive/data/3 is missing", "save or download it again"}},
		{short, []string{"storage record archive/data/0 has 92 bytes", "save or download it again"}},
		{garbage, []string{"not a PyTorch file"}},
		{safet, []string{"not a PyTorch file"}},
	} {
		_, err := ReadPyTorchFile(c.path)
		checkOneLine(t, err, c.path+": ", c.wants...)
	}
	// ReadFile reads the safetensors file whatever its extension.
	if _, _, err := ReadFile(safet); err != nil {
		t.Error(err)
	}
}

func TestPyTorchCorruptStorage(t *testing.T) {
	// Flip a byte inside a stored record: the zip CRC catches it.
	orig, _ := os.ReadFile("testdata/tiny.pth")
	zr, _ := zip.NewReader(bytes.NewReader(orig), int64(len(orig)))
	var off int64
	for _, f := range zr.File {
		if f.Name == "archive/data/0" {
			off, _ = f.DataOffset()
		}
	}
	bad := bytes.Clone(orig)
	bad[off+5] ^= 0x40
	path := filepath.Join(t.TempDir(), "crc.pth")
	os.WriteFile(path, bad, 0o644)
	_, err := ReadPyTorchFile(path)
	checkOneLine(t, err, path+": ", "archive/data/0", "checksum")
}
