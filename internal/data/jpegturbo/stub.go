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

// Decode always fails in the stub.
func Decode(data []byte, minSide int) (*Result, error) { return nil, ErrUnavailable }
