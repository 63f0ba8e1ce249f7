package jpegturbo

// The DCT-scale arithmetic is the same with and without cgo.

// ScaledSize is the size libjpeg decodes a w×h image to at scale 1/denom
// (it rounds up).
func ScaledSize(w, h, denom int) (int, int) {
	return (w + denom - 1) / denom, (h + denom - 1) / denom
}

// Denom picks the largest DCT scale 1/8, 1/4 or 1/2 at which the shorter
// side of a w×h image stays at least minSide, as PIL's draft does; 1 when
// minSide <= 0 or no reduction keeps the image large enough.
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
