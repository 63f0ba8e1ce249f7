package transform

import (
	"fmt"
	"math"
	"sync"

	"github.com/racnn/racnn/internal/data"
)

// ImageNet colour statistics, the default normalisation.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Norm is a per-channel colour normalisation: a pixel value p in 0..255 of
// channel c becomes (p/255 − Mean[c]) / Std[c].
type Norm struct {
	Mean, Std [3]float32
}

// ImageNetNorm is the normalisation torchvision's ImageNet models expect.
func ImageNetNorm() Norm { return Norm{Mean: ImageNetMean, Std: ImageNetStd} }

// coeffs are the precomputed taps of one axis: output position o reads n[o]
// source positions from start[o] with weights w[o*k : o*k+n[o]]; n[o] == 0
// marks padding.
type coeffs struct {
	k     int
	start []int
	n     []int
	w     []float32
}

// axisCoeffs computes the tent-filter taps for out output positions covering
// the window [x0, x0+win) of an axis of inSize source pixels (see the package
// comment for the formula). With flip, output o takes window position out-1-o.
func axisCoeffs(c *coeffs, inSize int, x0, win float64, out int, flip bool) {
	scale := win / float64(out)
	fs := math.Max(scale, 1)
	support := fs // the tent's support is 1, widened by the scale
	k := int(math.Ceil(support))*2 + 1
	c.k = k
	c.start = grow(c.start, out)
	c.n = grow(c.n, out)
	c.w = growF(c.w, out*k)
	inv := 1 / fs
	var tmp [64]float64
	wt := tmp[:0]
	for o := 0; o < out; o++ {
		p := o
		if flip {
			p = out - 1 - o
		}
		center := x0 + (float64(p)+0.5)*scale
		c.start[o], c.n[o] = 0, 0
		if center < 0 || center >= float64(inSize) {
			continue // padding
		}
		lo := int(math.Floor(center - support + 0.5))
		hi := int(math.Floor(center + support + 0.5))
		if lo < 0 {
			lo = 0
		}
		if hi > inSize {
			hi = inSize
		}
		wt = wt[:0]
		var sum float64
		for x := lo; x < hi; x++ {
			t := math.Abs((float64(x) + 0.5 - center) * inv)
			w := 0.0
			if t < 1 {
				w = 1 - t
			}
			wt = append(wt, w)
			sum += w
		}
		// Trim zero-weight taps at both ends (they cost time, change nothing).
		for len(wt) > 0 && wt[0] == 0 {
			wt = wt[1:]
			lo++
		}
		for len(wt) > 0 && wt[len(wt)-1] == 0 {
			wt = wt[:len(wt)-1]
		}
		if sum == 0 || len(wt) == 0 {
			continue
		}
		c.start[o], c.n[o] = lo, len(wt)
		dst := c.w[o*k : o*k+len(wt)]
		for i, w := range wt {
			dst[i] = float32(w / sum)
		}
	}
}

func grow(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

type scratch struct {
	h, v coeffs
	tmp  []float32 // horizontally resampled rows, three planes
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Render resamples the view of img into dst as normalised float32 CHW
// (3×H×W, channel planes R, G, B). dst must have length 3·W·H. img must be
// the SrcW×SrcH image the view was planned on.
func (v View) Render(img *data.Image, n Norm, dst []float32) error {
	if err := v.check(); err != nil {
		return err
	}
	if img.W != v.SrcW || img.H != v.SrcH {
		return fmt.Errorf("transform: view planned for a %d×%d image, got %d×%d", v.SrcW, v.SrcH, img.W, img.H)
	}
	if len(img.Pix) < img.W*img.H*3 {
		return fmt.Errorf("transform: image %d×%d has %d bytes, want %d", img.W, img.H, len(img.Pix), img.W*img.H*3)
	}
	W, H := v.W, v.H
	if len(dst) != 3*W*H {
		return fmt.Errorf("transform: destination has %d floats, want 3×%d×%d", len(dst), H, W)
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	axisCoeffs(&s.h, img.W, v.X0, v.WinW, W, v.Flip)
	axisCoeffs(&s.v, img.H, v.Y0, v.WinH, H, false)

	// Source rows the vertical taps read.
	rmin, rmax := img.H, 0
	for o := 0; o < H; o++ {
		if s.v.n[o] > 0 {
			rmin = min(rmin, s.v.start[o])
			rmax = max(rmax, s.v.start[o]+s.v.n[o])
		}
	}
	plane := W * H
	var a, b [3]float32
	for c := 0; c < 3; c++ {
		a[c] = 1 / (255 * n.Std[c])
		b[c] = -n.Mean[c] / n.Std[c]
	}
	if rmax <= rmin { // all padding
		clear(dst)
		return nil
	}

	// Horizontal pass: source rows rmin..rmax-1 → three planes of rows×W,
	// already multiplied by the normalisation's scale a. A padding column
	// gets −b, so that after the vertical pass (weights summing to 1) and the
	// offset b it comes out as 0.
	rows := rmax - rmin
	s.tmp = growF(s.tmp, 3*rows*W)
	tp := rows * W
	tR, tG, tB := s.tmp[:tp], s.tmp[tp:2*tp], s.tmp[2*tp:3*tp]
	hk, hs, hn, hw := s.h.k, s.h.start, s.h.n, s.h.w
	stride := img.W * 3
	for r := 0; r < rows; r++ {
		src := img.Pix[(rmin+r)*stride : (rmin+r+1)*stride]
		oR, oG, oB := tR[r*W:(r+1)*W], tG[r*W:(r+1)*W], tB[r*W:(r+1)*W]
		for o := range oR {
			nt := hn[o]
			var sr, sg, sb float32
			switch nt {
			case 0:
				oR[o], oG[o], oB[o] = -b[0], -b[1], -b[2]
				continue
			case 1:
				q := src[hs[o]*3 : hs[o]*3+3]
				sr, sg, sb = float32(q[0]), float32(q[1]), float32(q[2])
			case 2:
				q := src[hs[o]*3 : hs[o]*3+6]
				w0, w1 := hw[o*hk], hw[o*hk+1]
				sr = w0*float32(q[0]) + w1*float32(q[3])
				sg = w0*float32(q[1]) + w1*float32(q[4])
				sb = w0*float32(q[2]) + w1*float32(q[5])
			default:
				p := src[hs[o]*3 : (hs[o]+nt)*3]
				ws := hw[o*hk : o*hk+nt]
				for t, w := range ws {
					q := p[t*3 : t*3+3]
					sr += w * float32(q[0])
					sg += w * float32(q[1])
					sb += w * float32(q[2])
				}
			}
			oR[o], oG[o], oB[o] = sr*a[0], sg*a[1], sb*a[2]
		}
	}

	// Vertical pass, plane by plane, adding the offset b.
	vk, vs, vn, vw := s.v.k, s.v.start, s.v.n, s.v.w
	for c, t := range [3][]float32{tR, tG, tB} {
		out := dst[c*plane : (c+1)*plane]
		bc := b[c]
		for o := 0; o < H; o++ {
			row := out[o*W : (o+1)*W]
			nt := vn[o]
			if nt == 0 {
				clear(row)
				continue
			}
			ws := vw[o*vk : o*vk+nt]
			base := (vs[o] - rmin) * W
			switch nt {
			case 1:
				r0 := t[base : base+W]
				for j := range row {
					row[j] = r0[j] + bc
				}
			case 2:
				r0, r1 := t[base:base+W], t[base+W:base+2*W]
				r0, r1 = r0[:len(row)], r1[:len(row)] // lets the compiler drop bounds checks
				w0, w1 := ws[0], ws[1]
				for j := range row {
					row[j] = w0*r0[j] + w1*r1[j] + bc
				}
			default:
				r0 := t[base : base+W]
				w0 := ws[0]
				for j := range row {
					row[j] = w0*r0[j] + bc
				}
				for k := 1; k < nt; k++ {
					rk := t[base+k*W : base+(k+1)*W]
					wk := ws[k]
					for j := range row {
						row[j] += wk * rk[j]
					}
				}
			}
		}
	}
	return nil
}
