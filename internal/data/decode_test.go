package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/data/jpegturbo"
)

// Committed fixtures (testdata/images) are written by
// scripts/make_image_fixtures.py with PIL; everything else is generated here.

func imagesDir(name string) string { return filepath.Join("testdata", "images", name) }

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(imagesDir(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type golden struct {
	Centres  [][3]int `json:"centres"`
	Size     [2]int   `json:"size"`
	HalfSize [2]int   `json:"half_size"`
}

func loadGolden(t *testing.T) map[string]golden {
	t.Helper()
	var g map[string]golden
	if err := json.Unmarshal(readFixture(t, "golden.json"), &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func at(img *Image, x, y int) [3]int {
	i := (y*img.W + x) * 3
	return [3]int{int(img.Pix[i]), int(img.Pix[i+1]), int(img.Pix[i+2])}
}

func near(a, b [3]int, tol int) bool {
	for k := range 3 {
		if d := a[k] - b[k]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

var quadCentres = [][2]int{{8, 6}, {24, 6}, {8, 18}, {24, 18}}

// decoders runs f with libjpeg-turbo (when built with cgo) and with Go's
// image/jpeg, the fallback.
func decoders(t *testing.T, f func(t *testing.T, dec func([]byte, int) (*Image, DecodeInfo, error), tol int)) {
	if jpegturbo.Available {
		t.Run("turbo", func(t *testing.T) {
			f(t, func(b []byte, minSide int) (*Image, DecodeInfo, error) { return decode(b, minSide) }, 1)
		})
	}
	t.Run("go", func(t *testing.T) {
		f(t, func(b []byte, minSide int) (*Image, DecodeInfo, error) { return decodeJPEG(b, 0, false) }, 4)
	})
}

func TestDecodeJPEGFixturesMatchPIL(t *testing.T) {
	g := loadGolden(t)
	intended := map[string][][3]int{
		"progressive.jpg": {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}},
		"cmyk.jpg":        {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {127, 127, 127}},
		"ycck.jpg":        {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {127, 127, 127}},
		"gray_pil.jpg":    {{40, 40, 40}, {200, 200, 200}, {40, 40, 40}, {200, 200, 200}},
	}
	decoders(t, func(t *testing.T, dec func([]byte, int) (*Image, DecodeInfo, error), tol int) {
		for name, want := range intended {
			img, info, err := dec(readFixture(t, name), 0)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if img.W != 32 || img.H != 24 || len(img.Pix) != 32*24*3 || info.Width != 32 || info.Height != 24 {
				t.Fatalf("%s: %dx%d (info %dx%d)", name, img.W, img.H, info.Width, info.Height)
			}
			for i, c := range quadCentres {
				got := at(img, c[0], c[1])
				if !near(got, g[name].Centres[i], tol) {
					t.Errorf("%s at %v = %v, PIL gives %v", name, c, got, g[name].Centres[i])
				}
				if !near(got, want[i], 3) {
					t.Errorf("%s at %v = %v, want about %v", name, c, got, want[i])
				}
			}
		}
	})
}

// stripAPP14 removes the Adobe marker segment of a JPEG.
func stripAPP14(t *testing.T, b []byte) []byte {
	t.Helper()
	for pos := 2; pos+4 <= len(b); {
		m := b[pos+1]
		n := int(b[pos+2])<<8 | int(b[pos+3])
		if m == 0xEE {
			return append(append([]byte(nil), b[:pos]...), b[pos+2+n:]...)
		}
		if m == 0xDA {
			break
		}
		pos += 2 + n
	}
	t.Fatal("no APP14 marker")
	return nil
}

func TestDecodeCMYKWithoutAdobeMarker(t *testing.T) {
	// Without the Adobe marker the data is still taken to be inverted (as
	// PIL and Go's image/jpeg do), so the colours are the same.
	// Go's image/jpeg (the no-cgo fallback) rejects such files.
	if !jpegturbo.Available {
		t.Skip("no libjpeg-turbo in this build")
	}
	g := loadGolden(t)
	b := stripAPP14(t, readFixture(t, "cmyk.jpg"))
	img, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range quadCentres {
		if got := at(img, c[0], c[1]); !near(got, g["cmyk.jpg"].Centres[i], 1) {
			t.Errorf("at %v = %v, want %v", c, got, g["cmyk.jpg"].Centres[i])
		}
	}
}

func loadPNG(t *testing.T, name string) *Image {
	t.Helper()
	img, err := DecodeFile(imagesDir(name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestDecodePhotoMatchesPIL(t *testing.T) {
	g := loadGolden(t)["photo.jpg"]
	data := readFixture(t, "photo.jpg")
	full := loadPNG(t, "photo_full.png") // PIL's decode, every 8th pixel
	compare := func(t *testing.T, img *Image, ref *Image, maxTol int, meanTol float64) {
		t.Helper()
		if (img.W+7)/8 != ref.W || (img.H+7)/8 != ref.H {
			t.Fatalf("decoded %dx%d, reference grid %dx%d", img.W, img.H, ref.W, ref.H)
		}
		worst, sum, n := 0, 0, 0
		for y := range ref.H {
			for x := range ref.W {
				a, b := at(img, 8*x, 8*y), at(ref, x, y)
				for k := range 3 {
					d := a[k] - b[k]
					if d < 0 {
						d = -d
					}
					worst = max(worst, d)
					sum += d
					n++
				}
			}
		}
		mean := float64(sum) / float64(n)
		t.Logf("max |diff| %d, mean %.3f over %d samples", worst, mean, n)
		if worst > maxTol || mean > meanTol {
			t.Errorf("differs from PIL: max %d (tol %d), mean %.3f (tol %.3f)", worst, maxTol, mean, meanTol)
		}
	}
	if jpegturbo.Available {
		t.Run("turbo/full", func(t *testing.T) {
			img, info, err := DecodeSized(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if img.W != g.Size[0] || img.H != g.Size[1] || info.Denom != 1 {
				t.Fatalf("%dx%d denom %d", img.W, img.H, info.Denom)
			}
			compare(t, img, full, 2, 0.05) // the same library as PIL: identical in practice
		})
		t.Run("turbo/half", func(t *testing.T) {
			// minSide 160: 333/2 = 167 ≥ 160 but 333/4 < 160, so 1/2.
			img, info, err := DecodeSized(data, 160)
			if err != nil {
				t.Fatal(err)
			}
			if info.Denom != 2 || img.W != g.HalfSize[0] || img.H != g.HalfSize[1] {
				t.Fatalf("%dx%d denom %d, want %v denom 2", img.W, img.H, info.Denom, g.HalfSize)
			}
			if w, h := info.OrientedSize(); w != 500 || h != 333 {
				t.Errorf("OrientedSize %dx%d", w, h)
			}
			compare(t, img, loadPNG(t, "photo_half.png"), 2, 0.05)
		})
		t.Run("turbo/minside", func(t *testing.T) {
			for _, tc := range []struct{ minSide, denom int }{
				{0, 1}, {334, 1}, {333, 1}, {167, 2}, {168, 1}, {84, 4}, {42, 8}, {1, 8},
			} {
				_, info, err := DecodeSized(data, tc.minSide)
				if err != nil || info.Denom != tc.denom {
					t.Errorf("minSide %d: denom %d %v, want %d", tc.minSide, info.Denom, err, tc.denom)
				}
			}
		})
	}
	t.Run("go/full", func(t *testing.T) {
		img, _, err := decodeJPEG(data, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		// image/jpeg upsamples chroma differently: close, not identical.
		compare(t, img, full, 20, 1.0)
	})
}

// encodeJPEG encodes m with Go's encoder (grayscale for *image.Gray).
func encodeJPEG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t *testing.T, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeGrayJPEG(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 24, 16))
	for y := range 16 {
		for x := range 24 {
			g.SetGray(x, y, color.Gray{Y: uint8(30 + 100*(x/8))}) // 30, 130, 230 bands
		}
	}
	b := encodeJPEG(t, g)
	decoders(t, func(t *testing.T, dec func([]byte, int) (*Image, DecodeInfo, error), _ int) {
		img, _, err := dec(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range []int{30, 130, 230} {
			if got := at(img, 8*i+4, 8); !near(got, [3]int{v, v, v}, 2) {
				t.Errorf("band %d = %v, want grey %d", i, got, v)
			}
		}
	})
}

// blocks is a 48×32 image of six flat 16×16 blocks, labelled
//
//	A B C
//	D E F
var blockColours = map[byte][3]int{
	'A': {255, 0, 0}, 'B': {0, 255, 0}, 'C': {0, 0, 255},
	'D': {255, 255, 0}, 'E': {0, 255, 255}, 'F': {255, 255, 255},
}

func blocks(scale int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, 48*scale, 32*scale))
	labels := []string{"ABC", "DEF"}
	for y := range 32 * scale {
		for x := range 48 * scale {
			c := blockColours[labels[y/(16*scale)][x/(16*scale)]]
			m.SetRGBA(x, y, color.RGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	return m
}

// withOrientation inserts an APP1 EXIF segment with the given orientation
// right after SOI, in little- or big-endian TIFF order.
func withOrientation(b []byte, o int, bigEndian bool) []byte {
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), 0, 0, 0, 0, 0, 0, 0}
	if bigEndian {
		tiff = []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2
	out := append([]byte{}, b[:2]...)
	out = append(out, 0xFF, 0xE1, byte(n>>8), byte(n))
	out = append(out, seg...)
	return append(out, b[2:]...)
}

// oriented is how each EXIF orientation displays the blocks image.
var oriented = map[int][]string{
	1: {"ABC", "DEF"},
	2: {"CBA", "FED"},
	3: {"FED", "CBA"},
	4: {"DEF", "ABC"},
	5: {"AD", "BE", "CF"},
	6: {"DA", "EB", "FC"},
	7: {"FC", "EB", "DA"},
	8: {"CF", "BE", "AD"},
}

func TestEXIFOrientation(t *testing.T) {
	base := encodeJPEG(t, blocks(1))
	for o := 1; o <= 8; o++ {
		for _, be := range []bool{false, true} {
			b := withOrientation(base, o, be)
			decoders(t, func(t *testing.T, dec func([]byte, int) (*Image, DecodeInfo, error), _ int) {
				img, info, err := dec(b, 0)
				if err != nil {
					t.Fatal(err)
				}
				want := oriented[o]
				if info.Orientation != o || img.W != 16*len(want[0]) || img.H != 16*len(want) {
					t.Fatalf("orientation %d: got orientation %d, %dx%d", o, info.Orientation, img.W, img.H)
				}
				if w, h := info.OrientedSize(); w != img.W || h != img.H {
					t.Errorf("orientation %d: OrientedSize %dx%d, image %dx%d", o, w, h, img.W, img.H)
				}
				for r, row := range want {
					for c := range row {
						got := at(img, 16*c+8, 16*r+8)
						if !near(got, blockColours[row[c]], 12) {
							t.Errorf("orientation %d (big-endian %v): block (%d,%d) = %v, want %c %v", o, be, r, c, got, row[c], blockColours[row[c]])
						}
					}
				}
				// Boxes follow: block B's box in the stored grid lands on B.
				bb := info.OrientBox(Box{X: 16, Y: 0, W: 16, H: 16})
				for r, row := range want {
					if c := strings.IndexByte(row, 'B'); c >= 0 {
						if wantBox := (Box{X: float64(16 * c), Y: float64(16 * r), W: 16, H: 16}); bb != wantBox {
							t.Errorf("orientation %d: OrientBox(B) = %+v, want %+v", o, bb, wantBox)
						}
					}
				}
			})
		}
	}
}

func TestEXIFOrientationWithDCTScaling(t *testing.T) {
	if !jpegturbo.Available {
		t.Skip("no libjpeg-turbo in this build")
	}
	b := withOrientation(encodeJPEG(t, blocks(4)), 6, false) // 192×128 stored
	img, info, err := DecodeSized(b, 60)                     // 128/2 = 64 ≥ 60
	if err != nil {
		t.Fatal(err)
	}
	if info.Denom != 2 || img.W != 64 || img.H != 96 {
		t.Fatalf("denom %d, %dx%d; want 2, 64x96", info.Denom, img.W, img.H)
	}
	if w, h := info.OrientedSize(); w != 128 || h != 192 {
		t.Errorf("OrientedSize %dx%d, want 128x192", w, h)
	}
	for r, row := range oriented[6] {
		for c := range row {
			if got := at(img, 32*c+16, 32*r+16); !near(got, blockColours[row[c]], 12) {
				t.Errorf("block (%d,%d) = %v, want %c", r, c, got, row[c])
			}
		}
	}
}

func TestDecodePNGs(t *testing.T) {
	// Alpha is dropped: the stored colour stays, even where fully transparent.
	nrgba := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{10, 20, 30, 0})
	nrgba.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 128})
	nrgba.SetNRGBA(2, 0, color.NRGBA{1, 2, 3, 255})

	pal := image.NewPaletted(image.Rect(0, 0, 3, 1), color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 128, 0, 255}, color.NRGBA{0, 0, 255, 0},
	})
	pal.SetColorIndex(0, 0, 2)
	pal.SetColorIndex(1, 0, 0)
	pal.SetColorIndex(2, 0, 1)

	rgb16 := image.NewNRGBA64(image.Rect(0, 0, 2, 1))
	rgb16.SetNRGBA64(0, 0, color.NRGBA64{0x1234, 0xABCD, 0xFF00, 0xFFFF})
	rgb16.SetNRGBA64(1, 0, color.NRGBA64{0x00FF, 0x8000, 0x7FFF, 0xFFFF})
	rgba16 := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	rgba16.SetNRGBA64(0, 0, color.NRGBA64{0x4000, 0x8000, 0xC000, 0x1000})

	gray16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	gray16.SetGray16(0, 0, color.Gray16{0xAB12})
	gray16.SetGray16(1, 0, color.Gray16{0x00FF})
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.SetGray(0, 0, color.Gray{77})

	for _, tc := range []struct {
		name string
		m    image.Image
		want [][3]int
	}{
		{"alpha", nrgba, [][3]int{{10, 20, 30}, {200, 100, 50}, {1, 2, 3}}},
		{"palette", pal, [][3]int{{0, 0, 255}, {255, 0, 0}, {0, 128, 0}}},
		{"rgb16", rgb16, [][3]int{{0x12, 0xAB, 0xFF}, {0x00, 0x80, 0x7F}}},
		{"rgba16", rgba16, [][3]int{{0x40, 0x80, 0xC0}}},
		{"gray16", gray16, [][3]int{{0xAB, 0xAB, 0xAB}, {0, 0, 0}}},
		{"gray", gray, [][3]int{{77, 77, 77}}},
	} {
		img, err := Decode(encodePNG(t, tc.m))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if img.W != len(tc.want) || img.H != 1 {
			t.Fatalf("%s: %dx%d", tc.name, img.W, img.H)
		}
		for x, want := range tc.want {
			if got := at(img, x, 0); got != want {
				t.Errorf("%s pixel %d = %v, want %v", tc.name, x, got, want)
			}
		}
	}
}

func TestDecodeByContentNotName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "really_a_png.jpg")
	m := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	m.SetNRGBA(1, 1, color.NRGBA{9, 8, 7, 255})
	if err := os.WriteFile(p, encodePNG(t, m), 0o644); err != nil {
		t.Fatal(err)
	}
	img, info, err := DecodeFileSized(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "png" || at(img, 1, 1) != [3]int{9, 8, 7} {
		t.Errorf("format %q, pixel %v", info.Format, at(img, 1, 1))
	}
	q := filepath.Join(dir, "really_a_jpeg.png")
	if err := os.WriteFile(q, readFixture(t, "progressive.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, info, err := DecodeFileSized(q, 0); err != nil || info.Format != "jpeg" {
		t.Errorf("JPEG named .png: format %q, %v", info.Format, err)
	}
}

func TestDecodeBadFiles(t *testing.T) {
	dir := t.TempDir()
	photo := readFixture(t, "photo.jpg")
	pngData := encodePNG(t, blocks(1))
	for _, tc := range []struct {
		name string
		data []byte
		want string // in the error, besides the path
	}{
		{"empty.jpg", nil, "empty file"},
		{"half.jpg", photo[:len(photo)/2], "remature end"},
		{"header_only.jpg", photo[:300], ""},
		{"soi_only.jpg", photo[:3], ""},
		{"text.jpg", []byte("<html>not found</html>"), "not a JPEG or PNG"},
		{"anim.gif", []byte("GIF89a\x01\x00\x01\x00"), "only JPEG and PNG"},
		{"half.png", pngData[:len(pngData)/2], "PNG"},
		{"png_header.png", pngData[:8], "PNG"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		check := func(label string, err error) {
			t.Helper()
			if err == nil {
				t.Errorf("%s %s: no error", label, tc.name)
				return
			}
			var ie *ImageError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s: error %q should be an *ImageError naming the file and saying %q", label, tc.name, err, tc.want)
			}
		}
		_, err := DecodeFile(p)
		check("DecodeFile", err)
		if sniff(tc.data) == "jpeg" {
			_, _, err := decodeJPEG(tc.data, 0, false)
			if err == nil {
				t.Errorf("image/jpeg fallback %s: no error", tc.name)
			}
		}
	}
	_, err := DecodeFile(filepath.Join(dir, "missing.jpg"))
	if err == nil || !strings.Contains(err.Error(), "missing.jpg") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDecodeMissingEOIIsAnError(t *testing.T) {
	// All scan data present, only the 2-byte EOI marker missing: PIL raises
	// "image file is truncated" for such files, and so do we.
	if !jpegturbo.Available {
		t.Skip("image/jpeg accepts a missing EOI")
	}
	b := encodeJPEG(t, blocks(1))
	if _, err := Decode(b[:len(b)-2]); err == nil || !strings.Contains(err.Error(), "remature end") {
		t.Errorf("error %v", err)
	}
}

func TestOrientBoxRoundTrip(t *testing.T) {
	// Mapping a box through the orientation and back through the inverse
	// orientation (on the oriented grid) gives it back.
	inverse := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}
	b := Box{X: 3, Y: 5, W: 7, H: 11}
	for o := 1; o <= 8; o++ {
		d := DecodeInfo{Width: 40, Height: 30, Orientation: o}
		ob := d.OrientBox(b)
		w, h := d.OrientedSize()
		back := DecodeInfo{Width: w, Height: h, Orientation: inverse[o]}.OrientBox(ob)
		if back != b {
			t.Errorf("orientation %d: %+v → %+v → %+v", o, b, ob, back)
		}
		if ob.X < 0 || ob.Y < 0 || ob.X+ob.W > float64(w) || ob.Y+ob.H > float64(h) {
			t.Errorf("orientation %d: %+v outside %dx%d", o, ob, w, h)
		}
	}
}

func TestBadImagesPolicy(t *testing.T) {
	if p, err := ParseOnBadImage(""); p != BadImageFail || err != nil {
		t.Errorf(`"" → %q %v`, p, err)
	}
	if p, err := ParseOnBadImage("skip"); p != BadImageSkip || err != nil {
		t.Errorf("skip → %q %v", p, err)
	}
	if _, err := ParseOnBadImage("ignore"); err == nil || !strings.Contains(err.Error(), "skip") {
		t.Errorf("ignore → %v", err)
	}

	boom := errors.New("x.jpg: premature end of JPEG file")
	var fail BadImages // zero value fails
	if err := fail.Handle("x.jpg", boom); err != boom || fail.Count() != 0 {
		t.Errorf("fail: %v, count %d", err, fail.Count())
	}
	if err := fail.Handle("x.jpg", nil); err != nil {
		t.Errorf("nil error: %v", err)
	}

	var msgs []string
	skip := BadImages{Policy: BadImageSkip, Warn: func(m string) { msgs = append(msgs, m) }}
	for epoch := 0; epoch < 2; epoch++ {
		for i := range 25 {
			p := filepath.Join("d", string(rune('a'+i))+".jpg")
			if err := skip.Handle(p, boom); err != nil {
				t.Fatalf("skip returned %v", err)
			}
		}
	}
	if skip.Count() != 25 || len(skip.Skipped()) != 25 || skip.Skipped()[0] != filepath.Join("d", "a.jpg") {
		t.Errorf("count %d, skipped %v", skip.Count(), skip.Skipped())
	}
	if len(msgs) != maxWarnings+1 || !strings.Contains(msgs[0], "premature end") || !strings.Contains(msgs[maxWarnings], "more than") {
		t.Errorf("%d warnings: first %q last %q", len(msgs), msgs[0], msgs[len(msgs)-1])
	}
}

func TestDecodeConcurrently(t *testing.T) {
	data := readFixture(t, "photo.jpg")
	want, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 10 {
				img, err := Decode(data)
				if err == nil && !bytes.Equal(img.Pix, want.Pix) {
					err = errors.New("pixels differ from the serial decode")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecode feeds corrupt JPEGs and PNGs to the decoders: errors are fine,
// crashes (in libjpeg too) are not.
func FuzzDecode(f *testing.F) {
	for _, n := range []string{"progressive.jpg", "cmyk.jpg", "ycck.jpg", "gray_pil.jpg", "photo_half.png"} {
		f.Add(readFixture(f, n), 0)
	}
	f.Add(readFixture(f, "photo.jpg")[:3000], 100)
	f.Fuzz(func(t *testing.T, b []byte, minSide int) {
		img, info, err := DecodeSized(b, minSide%600)
		if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("error over more than one line: %q", err)
		}
		if err == nil && (len(img.Pix) != img.W*img.H*3 || info.Denom < 1) {
			t.Fatalf("%dx%d image with %d bytes, denom %d", img.W, img.H, len(img.Pix), info.Denom)
		}
	})
}
