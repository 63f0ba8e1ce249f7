package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CheckHeader passes the fixtures and refuses what a quick look can tell
// is not an image, naming the file.
func TestCheckHeader(t *testing.T) {
	for _, name := range []string{"photo.jpg", "cmyk.jpg", "ycck.jpg", "progressive.jpg", "gray_pil.jpg", "photo_full.png"} {
		if err := CheckHeader(filepath.Join("testdata", "images", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	photo := readFixture(t, "photo.jpg")
	for _, tc := range []struct{ name, data, want string }{
		{"empty.jpg", "", "empty file"},
		{"soi_only.jpg", string(photo[:3]), "JPEG"},
		{"text.png", "not a png", "not a JPEG or PNG"},
		{"anim.gif", "GIF89a\x01\x00\x01\x00", "only JPEG and PNG"},
		{"png_header.png", "\x89PNG\r\n\x1a\n", "PNG"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.data), 0o644)
		err := CheckHeader(p)
		var ie *ImageError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want an *ImageError naming it and saying %q", tc.name, err, tc.want)
		}
	}
	if err := CheckHeader(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
	if err := CheckHeader("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero: %v", err)
	}
}

// A device that never ends is refused after MaxFileBytes, not read forever.
func TestDecodeFileBoundsNonRegularFiles(t *testing.T) {
	defer func(n int64) { MaxFileBytes = n }(MaxFileBytes)
	MaxFileBytes = 1 << 20
	_, err := DecodeFile("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: not a regular file") {
		t.Fatalf("/dev/zero: %v", err)
	}
	if _, err := DecodeFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Fatalf("folder: %v", err)
	}
}

// Under skip, CheckHeaders counts the bad files; under fail it names the first.
func TestCheckHeadersPolicy(t *testing.T) {
	dir := t.TempDir()
	ds := &Dataset{}
	for i, body := range []string{"", "junk", string(readFixture(t, "photo.jpg")), "junk2"} {
		p := filepath.Join(dir, string(rune('a'+i))+".jpg")
		os.WriteFile(p, []byte(body), 0o644)
		ds.Items = append(ds.Items, Item{Path: p})
	}
	err := ds.CheckHeaders(3, &BadImages{Policy: BadImageFail})
	if err == nil || !strings.Contains(err.Error(), "a.jpg: empty file") {
		t.Fatalf("fail: %v", err)
	}
	bad := &BadImages{Policy: BadImageSkip, Warn: func(string) {}}
	if err := ds.CheckHeaders(3, bad); err != nil || bad.Count() != 3 {
		t.Fatalf("skip: %v, %d skipped, want 3", err, bad.Count())
	}
}
