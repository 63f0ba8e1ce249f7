package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"

	"github.com/racnn/racnn/internal/data/jpegturbo"
)

// Decoding
//
// JPEG and PNG files are told apart by their first bytes, never by the file
// name (a .jpg holding a PNG decodes as a PNG). Everything comes out as 8-bit
// RGB:
//
//   - JPEG: baseline and progressive, grayscale (expanded to RGB), YCbCr,
//     RGB, CMYK and YCCK. Four-channel JPEGs are taken to be stored inverted
//     (Adobe/Photoshop convention, which PIL and Go's image/jpeg assume too)
//     and converted with PIL's CMYK→RGB formula. The EXIF orientation tag
//     (1–8) is applied, so the pixels are upright as a photo viewer shows
//     them; DecodeInfo says what was done so that boxes can follow
//     (DecodeInfo.OrientBox). Note that torchvision's default loader does NOT
//     apply EXIF orientation.
//   - PNG: gray, gray+alpha, RGB, RGBA, palette (with or without tRNS),
//     8 and 16 bits per channel. Alpha is dropped, not composited: the stored
//     colour of each pixel is kept, as PIL's Image.convert("RGB") (and hence
//     torchvision's ImageFolder loader) does. 16-bit samples keep their high
//     byte (v >> 8).
//
// Speed. JPEG goes through libjpeg-turbo (package jpegturbo, cgo) rather than
// Go's image/jpeg, which is several times slower than PIL on a CUB-sized
// photo (docs/benchmarks.md, BenchmarkDecodeJPEG), while libjpeg-turbo
// decodes the same pixels as PIL (bit-identical on Debian, which links the
// same library; TestDecodePhotoMatchesPIL) in less time. DCT-domain scaling
// (what PIL's Image.draft does) makes large photos (Stanford Cars has many
// over 1,000 px) cheaper still when the pipeline only needs a shorter side of
// ~500 px. Builds without cgo fall back to image/jpeg (full-size decodes
// only; Denom is then always 1); the fallback is a few lines, so it stays.
//
// Errors name the file: an empty file, an unknown format, a corrupt or
// truncated JPEG or PNG ("premature end of JPEG file" is an error, as in
// PIL, rather than an image padded with grey) all return an *ImageError.

// MaxPixels bounds the size of an image (width×height) the decoder accepts,
// so that a corrupt header cannot make it allocate gigabytes. It is PIL's
// decompression-bomb error threshold.
const MaxPixels = 178956970

// DecodeInfo describes a decode: what the file held and what was done to it.
type DecodeInfo struct {
	Format string // "jpeg" or "png"
	// Width and Height are the full-resolution size as stored in the file,
	// before EXIF orientation and DCT scaling: the pixel grid annotation
	// boxes refer to.
	Width, Height int
	// Orientation is the EXIF orientation that was applied (1: none; 2–8 as
	// in the EXIF specification: 3 is a half turn, 6 a quarter turn
	// clockwise, 8 counter-clockwise, 2/4/5/7 the mirrored forms).
	Orientation int
	// Denom is the DCT scale the pixels were decoded at: the image is
	// ceil(w/Denom)×ceil(h/Denom) of the oriented full-resolution size.
	Denom int
	// Warnings counts the corrupt-data warnings the JPEG decoder recovered
	// from (extraneous bytes before a marker, …); the image is usable.
	Warnings int
}

// Swapped reports whether the orientation exchanges width and height.
func (d DecodeInfo) Swapped() bool { return d.Orientation >= 5 && d.Orientation <= 8 }

// OrientedSize is the full-resolution size after EXIF orientation: the
// "original size" a crop should be planned on (the decoded Image may be
// smaller by Denom).
func (d DecodeInfo) OrientedSize() (w, h int) {
	if d.Swapped() {
		return d.Height, d.Width
	}
	return d.Width, d.Height
}

// OrientBox maps a box given in the file's stored pixel grid (Width×Height,
// the grid MATLAB's imread and the annotation tools of CUB, Dogs and Cars
// saw) to the oriented full-resolution grid (OrientedSize).
func (d DecodeInfo) OrientBox(b Box) Box {
	W, H := float64(d.Width), float64(d.Height)
	switch d.Orientation {
	case 2: // mirror horizontally
		return Box{W - b.X - b.W, b.Y, b.W, b.H}
	case 3: // rotate 180°
		return Box{W - b.X - b.W, H - b.Y - b.H, b.W, b.H}
	case 4: // mirror vertically
		return Box{b.X, H - b.Y - b.H, b.W, b.H}
	case 5: // transpose
		return Box{b.Y, b.X, b.H, b.W}
	case 6: // rotate 90° clockwise
		return Box{H - b.Y - b.H, b.X, b.H, b.W}
	case 7: // transverse
		return Box{H - b.Y - b.H, W - b.X - b.W, b.H, b.W}
	case 8: // rotate 90° counter-clockwise
		return Box{b.Y, W - b.X - b.W, b.H, b.W}
	}
	return b
}

// ImageError is the error of an image that cannot be read or decoded.
type ImageError struct {
	Path string // empty when decoding from memory
	Err  error
}

func (e *ImageError) Error() string {
	if e.Path == "" {
		return "decode image: " + e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *ImageError) Unwrap() error { return e.Err }

// DecodeFile reads and decodes the image at path at full resolution (EXIF
// orientation applied).
func DecodeFile(path string) (*Image, error) {
	img, _, err := DecodeFileSized(path, 0)
	return img, err
}

// DecodeFileSized reads and decodes the image at path. When minSide > 0 and
// the file is a JPEG, it may decode at 1/2, 1/4 or 1/8 scale: the smallest
// scale whose shorter side is still at least minSide (as PIL's draft). The
// returned image is then smaller than the file; info.OrientedSize is the
// full-resolution size to plan crops and map boxes on. PNGs are always
// decoded at full size.
func DecodeFileSized(path string, minSide int) (*Image, DecodeInfo, error) {
	data, err := readImageFile(path)
	if err != nil {
		return nil, DecodeInfo{}, &ImageError{Path: path, Err: unwrapPathError(err)}
	}
	img, info, err := decode(data, minSide)
	if err != nil {
		return nil, DecodeInfo{}, &ImageError{Path: path, Err: err}
	}
	return img, info, nil
}

// Decode decodes an image held in memory at full resolution.
func Decode(data []byte) (*Image, error) {
	img, _, err := DecodeSized(data, 0)
	return img, err
}

// DecodeSized decodes an image held in memory; minSide as in
// DecodeFileSized.
func DecodeSized(data []byte, minSide int) (*Image, DecodeInfo, error) {
	img, info, err := decode(data, minSide)
	if err != nil {
		return nil, DecodeInfo{}, &ImageError{Err: err}
	}
	return img, info, nil
}

// DecodeReader reads all of r and decodes it at full resolution.
func DecodeReader(r io.Reader) (*Image, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &ImageError{Err: err}
	}
	return Decode(data)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var (
	sigJPEG = []byte{0xFF, 0xD8, 0xFF}
	sigPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// sniff names the format of data from its first bytes.
func sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, sigJPEG):
		return "jpeg"
	case bytes.HasPrefix(data, sigPNG):
		return "png"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "gif"
	case bytes.HasPrefix(data, []byte("BM")):
		return "bmp"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "tiff"
	}
	return ""
}

func decode(data []byte, minSide int) (*Image, DecodeInfo, error) {
	if len(data) == 0 {
		return nil, DecodeInfo{}, errors.New("empty file (0 bytes)")
	}
	switch f := sniff(data); f {
	case "jpeg":
		return decodeJPEG(data, minSide, jpegturbo.Available)
	case "png":
		return decodePNG(data)
	case "":
		n := min(len(data), 8)
		return nil, DecodeInfo{}, fmt.Errorf("not a JPEG or PNG file (starts with % x)", data[:n])
	default:
		return nil, DecodeInfo{}, fmt.Errorf("a %s file: only JPEG and PNG are supported; convert it", f)
	}
}

func decodeJPEG(data []byte, minSide int, turbo bool) (*Image, DecodeInfo, error) {
	info := DecodeInfo{Format: "jpeg", Orientation: jpegOrientation(data), Denom: 1}
	var img *Image
	if turbo {
		hd, err := jpegturbo.ReadHeader(data)
		if err != nil {
			return nil, info, fmt.Errorf("JPEG: %w", err)
		}
		if err := checkSize(hd.Width, hd.Height); err != nil {
			return nil, info, err
		}
		r, err := jpegturbo.Decode(data, minSide)
		if err != nil {
			return nil, info, fmt.Errorf("JPEG: %w", err)
		}
		info.Width, info.Height, info.Denom, info.Warnings = hd.Width, hd.Height, r.Denom, r.Warnings
		img = &Image{W: r.Width, H: r.Height, Pix: r.Pix}
	} else {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, info, fmt.Errorf("JPEG: %w", err)
		}
		if err := checkSize(cfg.Width, cfg.Height); err != nil {
			return nil, info, err
		}
		m, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, info, fmt.Errorf("JPEG: %w", jpegGoError(err))
		}
		info.Width, info.Height = cfg.Width, cfg.Height
		img = toRGB(m)
	}
	return orient(img, info.Orientation), info, nil
}

func jpegGoError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "short Huffman data") {
		return fmt.Errorf("premature end of JPEG file (truncated): %w", err)
	}
	return err
}

func decodePNG(data []byte) (*Image, DecodeInfo, error) {
	info := DecodeInfo{Format: "png", Orientation: 1, Denom: 1}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, info, fmt.Errorf("PNG: %w", pngError(err))
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, info, err
	}
	if err := checkPNGData(data); err != nil {
		return nil, info, fmt.Errorf("PNG: %w", err)
	}
	m, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, info, fmt.Errorf("PNG: %w", pngError(err))
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	return toRGB(m), info, nil
}

// checkPNGData refuses a PNG whose image data is too short to hold the
// pixels its header claims, before image/png allocates them: deflate cannot
// compress better than 1032:1, so w×h pixels need at least their filtered
// rows / 1032 bytes of IDAT. A few bytes claiming 12336×12336 pixels would
// otherwise cost 580 MiB before the decoder found the data missing.
func checkPNGData(data []byte) error {
	if len(data) < 33 || string(data[12:16]) != "IHDR" {
		return errors.New("no IHDR chunk")
	}
	w, h := int64(binary.BigEndian.Uint32(data[16:20])), int64(binary.BigEndian.Uint32(data[20:24]))
	depth, colour := int64(data[24]), data[25]
	channels := map[byte]int64{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
	rowBytes := 1 + (w*channels*depth+7)/8 // filter byte + packed samples
	var idat int64
	for off := 8; off+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[off : off+4]))
		if string(data[off+4:off+8]) == "IDAT" {
			idat += n
		}
		if n > int64(len(data)) {
			break // a chunk running past the end: image/png says truncated
		}
		off += 12 + int(n)
	}
	if need := h * rowBytes / 1032; idat < need {
		return fmt.Errorf("%d bytes of image data cannot hold %d×%d pixels (at least %d needed): truncated or corrupt", idat, w, h, need)
	}
	return nil
}

func pngError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("truncated file")
	}
	return err
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image has size %d×%d", w, h)
	}
	if int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("image of %d×%d pixels exceeds the %d-pixel limit (corrupt header or decompression bomb)", w, h, MaxPixels)
	}
	return nil
}

// div255 is PIL's MULDIV255 rounding of x/255.
func div255(x uint32) uint32 {
	x += 128
	return ((x >> 8) + x) >> 8
}

// cmykToRGB is PIL's cmyk2rgb for non-inverted CMYK (0 = no ink).
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - uint32(k)
	return uint8(nk - div255(uint32(c)*nk)), uint8(nk - div255(uint32(m)*nk)), uint8(nk - div255(uint32(y)*nk))
}

// toRGB converts a decoded image to 8-bit RGB, dropping alpha (the stored
// colour of a non-premultiplied pixel is kept).
func toRGB(m image.Image) *Image {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
	p := out.Pix
	switch s := m.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := s.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = r, g, bl
			}
		}
	case *image.Gray:
		for y := range h {
			row := s.Pix[(y)*s.Stride:]
			for x := range w {
				v := row[x]
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.Gray16:
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				v := row[2*x] // high byte (big-endian samples)
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = v, v, v
			}
		}
	case *image.CMYK:
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	case *image.NRGBA:
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.NRGBA64:
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, len(s.Palette))
		for i, c := range s.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := range h {
			row := s.Pix[y*s.Stride:]
			for x := range w {
				i := (y*w + x) * 3
				var c [3]uint8
				if int(row[x]) < len(pal) {
					c = pal[row[x]]
				}
				p[i], p[i+1], p[i+2] = c[0], c[1], c[2]
			}
		}
	default:
		// RGBA/RGBA64 (premultiplied; opaque in what image/png produces)
		// and anything else: through NRGBA64, then the high byte.
		for y := range h {
			for x := range w {
				c := color.NRGBA64Model.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				i := (y*w + x) * 3
				p[i], p[i+1], p[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
			}
		}
	}
	return out
}

// orient applies EXIF orientation o to img.
func orient(img *Image, o int) *Image {
	if o < 2 || o > 8 {
		return img
	}
	W, H := img.W, img.H
	ow, oh := W, H
	if o >= 5 {
		ow, oh = H, W
	}
	out := &Image{W: ow, H: oh, Pix: make([]uint8, len(img.Pix))}
	for oy := range oh {
		for ox := range ow {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = W-1-ox, oy
			case 3:
				sx, sy = W-1-ox, H-1-oy
			case 4:
				sx, sy = ox, H-1-oy
			case 5:
				sx, sy = oy, ox
			case 6:
				sx, sy = oy, H-1-ox
			case 7:
				sx, sy = W-1-oy, H-1-ox
			case 8:
				sx, sy = W-1-oy, ox
			}
			si, di := (sy*W+sx)*3, (oy*ow+ox)*3
			copy(out.Pix[di:di+3], img.Pix[si:si+3])
		}
	}
	return out
}

// jpegOrientation returns the EXIF orientation (1–8) of a JPEG, 1 when it
// has none or the EXIF data cannot be read.
func jpegOrientation(data []byte) int {
	pos := 2
	for pos+4 <= len(data) {
		if data[pos] != 0xFF {
			return 1
		}
		m := data[pos+1]
		if m == 0xFF { // fill byte
			pos++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			pos += 2
			continue
		}
		if m == 0xDA || m == 0xD9 { // start of scan, end of image
			return 1
		}
		n := int(data[pos+2])<<8 | int(data[pos+3])
		if n < 2 || pos+2+n > len(data) {
			return 1
		}
		seg := data[pos+4 : pos+2+n]
		if m == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			if o := exifOrientation(seg[6:]); o != 0 {
				return o
			}
		}
		pos += 2 + n
	}
	return 1
}

// exifOrientation reads tag 0x0112 of IFD0 of a TIFF structure; 0 when
// absent or invalid.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var u16 func([]byte) uint16
	var u32 func([]byte) uint32
	switch string(t[:2]) {
	case "II":
		u16 = func(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
		u32 = func(b []byte) uint32 { return uint32(u16(b)) | uint32(u16(b[2:]))<<16 }
	case "MM":
		u16 = func(b []byte) uint16 { return uint16(b[1]) | uint16(b[0])<<8 }
		u32 = func(b []byte) uint32 { return uint32(u16(b))<<16 | uint32(u16(b[2:])) }
	default:
		return 0
	}
	if u16(t[2:]) != 42 {
		return 0
	}
	off := int64(u32(t[4:]))
	if off+2 > int64(len(t)) {
		return 0
	}
	n := int64(u16(t[off:]))
	for i := int64(0); i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if u16(t[e:]) != 0x0112 {
			continue
		}
		typ, count := u16(t[e+2:]), u32(t[e+4:])
		if typ != 3 || count < 1 { // SHORT
			return 0
		}
		if o := int(u16(t[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}
