package jpegturbo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The decoder's pixels are tested against PIL in package data
// (TestDecodePhotoMatchesPIL and friends); these test the size logic.

func TestDenom(t *testing.T) {
	for _, tc := range []struct{ w, h, minSide, want int }{
		{500, 333, 0, 1}, {500, 333, -1, 1}, {500, 333, 448, 1}, {500, 333, 167, 2},
		{500, 333, 168, 1}, {500, 333, 84, 4}, {500, 333, 42, 8}, {500, 333, 43, 4},
		{2000, 1500, 448, 2}, {4000, 3000, 448, 4}, {8000, 6000, 448, 8}, {10, 10, 1, 8},
	} {
		if got := Denom(tc.w, tc.h, tc.minSide); got != tc.want {
			t.Errorf("Denom(%d, %d, %d) = %d, want %d", tc.w, tc.h, tc.minSide, got, tc.want)
		}
	}
	if w, h := ScaledSize(500, 333, 8); w != 63 || h != 42 {
		t.Errorf("ScaledSize(500, 333, 8) = %d, %d; libjpeg rounds up to 63, 42", w, h)
	}
}

func TestHeaderAndDecode(t *testing.T) {
	if !Available {
		t.Skip("built without cgo")
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "images", "photo.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	hd, err := ReadHeader(data)
	if err != nil || hd != (Header{Width: 500, Height: 333, Components: 3, ColorSpace: "ycbcr"}) {
		t.Errorf("header %+v %v", hd, err)
	}
	for _, minSide := range []int{0, 167, 84, 42} {
		r, err := Decode(data, minSide)
		if err != nil {
			t.Fatal(err)
		}
		d := Denom(500, 333, minSide)
		w, h := ScaledSize(500, 333, d)
		if r.Denom != d || r.Width != w || r.Height != h || len(r.Pix) != w*h*3 || r.Warnings != 0 {
			t.Errorf("minSide %d: %dx%d denom %d (%d bytes, %d warnings); want %dx%d denom %d", minSide, r.Width, r.Height, r.Denom, len(r.Pix), r.Warnings, w, h, d)
		}
	}
	if _, err := ReadHeader(nil); err == nil {
		t.Error("empty input: no error")
	}
	if _, err := Decode(data[:len(data)/3], 0); err == nil || !strings.Contains(err.Error(), "Premature end") {
		t.Errorf("truncated: %v", err)
	}
	if _, err := Decode([]byte("\xff\xd8\xff\xe0 garbage garbage"), 0); err == nil {
		t.Error("garbage: no error")
	}
}
