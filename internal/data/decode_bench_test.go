package data

import (
	"testing"

	"github.com/racnn/racnn/internal/data/jpegturbo"
)

// BenchmarkDecodeJPEG decodes testdata/images/photo.jpg (500×333, quality 90,
// 4:2:0: the size of a CUB or Dogs photo) with libjpeg-turbo at full size and
// at 1/2 (DCT scaling, minSide 160), and with Go's image/jpeg. Compare with
// PIL on the same file: /usr/bin/python3 scripts/bench_decode_pil.py.
//
//	go test -run XXX -bench DecodeJPEG -benchtime 2s ./internal/data/
func BenchmarkDecodeJPEG(b *testing.B) {
	data := readFixture(b, "photo.jpg")
	run := func(name string, f func() (*Image, DecodeInfo, error)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := f(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
	if jpegturbo.Available {
		run("turbo/full", func() (*Image, DecodeInfo, error) { return DecodeSized(data, 0) })
		run("turbo/half", func() (*Image, DecodeInfo, error) { return DecodeSized(data, 160) })
		run("turbo/quarter", func() (*Image, DecodeInfo, error) { return DecodeSized(data, 80) })
	}
	run("go/full", func() (*Image, DecodeInfo, error) { return decodeJPEG(data, 0, false) })
}
