//go:build !cgo

package jpegturbo

import "errors"

// Available is false: this build has no cgo, and internal/data decodes JPEG
// with Go's image/jpeg instead.
const Available = false

// ErrUnavailable is returned by every function of the stub.
var ErrUnavailable = errors.New("jpegturbo: built without cgo")

// Header is what the frame header says.
type Header struct {
	Width, Height int
	Components    int
	ColorSpace    string
}

// Result is a decoded image.
type Result struct {
	Width, Height int
	Pix           []uint8
	Denom         int
	Warnings      int
}

// ReadHeader always fails in the stub.
func ReadHeader(data []byte) (Header, error) { return Header{}, ErrUnavailable }

// ScaledSize is the size libjpeg decodes a w×h image to at scale 1/denom.
func ScaledSize(w, h, denom int) (int, int) {
	return (w + denom - 1) / denom, (h + denom - 1) / denom
}

// Denom picks the DCT scale as the cgo build does.
func Denom(w, h, minSide int) int {
	if minSide <= 0 {
		return 1
	}
	for _, d := range []int{8, 4, 2} {
		sw, sh := ScaledSize(w, h, d)
		if min(sw, sh) >= minSide {
			return d
		}
	}
	return 1
}

// Decode always fails in the stub.
func Decode(data []byte, minSide int) (*Result, error) { return nil, ErrUnavailable }
