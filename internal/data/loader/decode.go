package loader

import (
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"os"

	"github.com/racnn/racnn/internal/data"
)

// DecodeFile is the default DecodeFunc.
// TODO: use the data package's decoder once it lands (libjpeg-turbo with DCT scaling).
func DecodeFile(path string, minSide int) (*data.Image, int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	m, _, err := image.Decode(f)
	if err != nil {
		return nil, 0, 0, err
	}
	r := m.Bounds()
	img := &data.Image{W: r.Dx(), H: r.Dy(), Pix: make([]uint8, r.Dx()*r.Dy()*3)}
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			cr, cg, cb, _ := m.At(r.Min.X+x, r.Min.Y+y).RGBA()
			p := (y*img.W + x) * 3
			img.Pix[p], img.Pix[p+1], img.Pix[p+2] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
		}
	}
	if img.W == 0 || img.H == 0 {
		return nil, 0, 0, fmt.Errorf("empty image")
	}
	return img, img.W, img.H, nil
}
