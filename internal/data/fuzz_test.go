package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckHeader feeds corrupt files to the header check that runs before
// training: it must not panic, must say what is wrong in one line that names
// the file, and must never refuse a file the decoder reads.
func FuzzCheckHeader(f *testing.F) {
	for _, n := range []string{"progressive.jpg", "cmyk.jpg", "ycck.jpg", "gray_pil.jpg", "photo_half.png"} {
		f.Add(readFixture(f, n))
	}
	f.Add(readFixture(f, "photo.jpg")[:3000])
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x00\x00\x00\x01\x00\x00\x08\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "x.jpg")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		herr := CheckHeader(path)
		if herr == nil {
			return
		}
		if msg := herr.Error(); strings.ContainsAny(msg, "\n\r") || !strings.Contains(msg, path) {
			t.Fatalf("error %q is not one line naming the file", msg)
		}
		if img, err := Decode(b); err == nil {
			t.Fatalf("decodes (%dx%d) but the header check says %v", img.W, img.H, herr)
		}
	})
}
