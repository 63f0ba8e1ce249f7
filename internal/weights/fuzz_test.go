package weights

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets feed corrupt files to each reader: errors are fine, a
// panic, an error over more than one line, a tensor whose bytes do not
// match its shape, or tensors that add up to more than a file of that size
// can legitimately describe are not.

// addFiles adds testdata files and the hostile suite's files to f's seeds.
func addFiles(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		if len(files) == 0 {
			f.Fatalf("no seed files %s", p)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// checkRead checks what a reader returned for a file of size bytes.
func checkRead(t *testing.T, sd *StateDict, err error, size int) {
	if err != nil {
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("error over more than one line: %q", msg)
		}
		return
	}
	var total int64
	for name, ts := range sd.All() {
		if err := ts.Validate(); err != nil {
			t.Fatalf("tensor %s: %v", name, err)
		}
		total += int64(len(ts.Data))
	}
	if limit := int64(size) + copyBudget(int64(size)); total > limit {
		t.Fatalf("%d bytes of tensors from a %d-byte file (limit %d)", total, size, limit)
	}
}

func FuzzReadPyTorchZip(f *testing.F) {
	addFiles(f, "testdata/*.pth", "../hostile/testdata/*.pth")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 || string(b[:4]) != "PK\x03\x04" {
			return // FuzzReadPyTorchLegacy's
		}
		sd, err := ReadPyTorch(bytes.NewReader(b), int64(len(b)))
		checkRead(t, sd, err, len(b))
	})
}

func FuzzReadPyTorchLegacy(f *testing.F) {
	addFiles(f, "testdata/tiny_legacy.pth", "../hostile/testdata/*.pth")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 4 && string(b[:4]) == "PK\x03\x04" {
			return // FuzzReadPyTorchZip's
		}
		sd, err := ReadPyTorch(bytes.NewReader(b), int64(len(b)))
		checkRead(t, sd, err, len(b))
	})
}

func FuzzReadSafetensors(f *testing.F) {
	addFiles(f, "testdata/*.safetensors", "../hostile/testdata/*.safetensors")
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, meta, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)))
		checkRead(t, sd, err, len(b))
		if err == nil {
			// What was read writes back and reads again the same.
			var buf bytes.Buffer
			if err := WriteSafetensors(&buf, sd, meta); err != nil {
				if strings.Contains(err.Error(), "is reserved") {
					return // a name the reader takes but the writer refuses
				}
				t.Fatalf("writing back: %v", err)
			}
			sd2, _, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil || sd2.Len() != sd.Len() {
				t.Fatalf("reading back: %d of %d tensors, %v", sd2.Len(), sd.Len(), err)
			}
		}
	})
}
