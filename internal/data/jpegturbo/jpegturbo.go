//go:build cgo

// Package jpegturbo decodes JPEG images to 8-bit RGB with libjpeg-turbo
// through its libjpeg (jpeglib.h) API, optionally downscaling by 1/2, 1/4 or
// 1/8 in the DCT domain, which is what PIL's Image.draft does and what makes
// large photos cheap to decode when the network only needs ~500 px.
//
// It is the only package of internal/data that imports "C". Build
// dependency: Debian's libjpeg62-turbo-dev (jpeglib.h, libjpeg.so); the
// binary then needs libjpeg62-turbo at run time. Without cgo the package
// builds as a stub whose Available is false, and internal/data falls back to
// Go's image/jpeg.
//
// Output matches PIL (which links the same library on Debian): the default
// integer slow DCT and fancy upsampling; grayscale is expanded to RGB; CMYK
// and YCCK are converted with PIL's formula after undoing the Adobe
// inversion, which PIL (and Go's image/jpeg) assume for every 4-channel JPEG.
//
// Errors: libjpeg's fatal errors come back as Go errors (the C code uses the
// documented setjmp/longjmp error manager, so nothing aborts the process).
// Premature end of data is an error too, even when only the final EOI marker
// is missing (libjpeg only warns and pads the image with grey; PIL raises
// "image file is truncated" in both cases). The other corrupt-
// data warnings (extraneous bytes before a marker and the like) are ignored
// as PIL ignores them, and counted in Result.Warnings.
package jpegturbo

/*
#cgo LDFLAGS: -ljpeg
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	long hit_row; // the output row at which the scan data ran out, or -1
} rj_err;

static void rj_error_exit(j_common_ptr c) {
	rj_err *e = (rj_err *)c->err;
	c->err->format_message(c, e->msg);
	longjmp(e->jb, 1);
}

static void rj_emit_message(j_common_ptr c, int level) {
	if (level < 0) {
		if (c->err->msg_code == JWRN_JPEG_EOF) {
			rj_error_exit(c);
		}
		// From here on libjpeg makes the rows up (grey): remember where.
		rj_err *e = (rj_err *)c->err;
		if (c->err->msg_code == JWRN_HIT_MARKER && e->hit_row < 0 && c->is_decompressor) {
			e->hit_row = (long)((j_decompress_ptr)c)->output_scanline;
		}
		c->err->num_warnings++;
	}
}

static void rj_setup(struct jpeg_decompress_struct *d, rj_err *e) {
	memset(d, 0, sizeof *d);
	memset(e, 0, sizeof *e);
	e->hit_row = -1;
	d->err = jpeg_std_error(&e->pub);
	e->pub.error_exit = rj_error_exit;
	e->pub.emit_message = rj_emit_message;
}

// rj_header reads the frame header: size, components and colour space.
static int rj_header(const unsigned char *data, unsigned long n, int *w, int *h,
                     int *comps, int *cs, char *msg) {
	struct jpeg_decompress_struct d;
	rj_err e;
	rj_setup(&d, &e);
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		memcpy(msg, e.msg, JMSG_LENGTH_MAX);
		return -1;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, n);
	jpeg_read_header(&d, TRUE);
	*w = (int)d.image_width;
	*h = (int)d.image_height;
	*comps = d.num_components;
	*cs = (int)d.jpeg_color_space;
	jpeg_destroy_decompress(&d);
	return 0;
}

static inline unsigned char rj_div255(unsigned int x) {
	x += 128;
	return (unsigned char)(((x >> 8) + x) >> 8);
}

// rj_dec is one decode in progress: rj_open starts it, rj_read hands out
// rows, rj_close ends it. The caller owns the output buffer and grows it as
// rows arrive, so what it allocates follows the rows the file really holds,
// not the size its header claims.
typedef struct {
	struct jpeg_decompress_struct d;
	rj_err e;
	int cmyk;
	unsigned char *tmp;
	size_t max_made_up; // bytes of output past the end of the scan data allowed
} rj_dec;

static void rj_close(rj_dec *s) {
	if (s == NULL) {
		return;
	}
	jpeg_destroy_decompress(&s->d);
	free(s->tmp);
	free(s);
}

// rj_open reads the header and starts decompression scaled by 1/denom. A
// multi-scan (progressive) image needs coefficient buffers for the whole
// image before its first row, about 128 bytes per 8x8 block of each
// component; beyond max_coef bytes it is refused before anything is
// allocated (need is set, and the return is -2).
static rj_dec *rj_open(const unsigned char *data, unsigned long n, int denom, size_t max_coef,
                       size_t max_made_up, int *ow, int *oh, size_t *need, int *rc, char *msg) {
	rj_dec *s = calloc(1, sizeof *s);
	if (s == NULL) {
		snprintf(msg, JMSG_LENGTH_MAX, "out of memory");
		*rc = -1;
		return NULL;
	}
	rj_setup(&s->d, &s->e);
	s->max_made_up = max_made_up;
	if (setjmp(s->e.jb)) {
		memcpy(msg, s->e.msg, JMSG_LENGTH_MAX);
		rj_close(s);
		*rc = -1;
		return NULL;
	}
	jpeg_create_decompress(&s->d);
	jpeg_mem_src(&s->d, data, n);
	jpeg_read_header(&s->d, TRUE);
	if (jpeg_has_multiple_scans(&s->d)) {
		size_t total = 0;
		for (int c = 0; c < s->d.num_components; c++) {
			jpeg_component_info *ci = &s->d.comp_info[c];
			total += (size_t)ci->width_in_blocks * ci->height_in_blocks * DCTSIZE2 * sizeof(JCOEF);
		}
		if (total > max_coef) {
			*need = total;
			rj_close(s);
			*rc = -2;
			return NULL;
		}
	}
	s->cmyk = s->d.jpeg_color_space == JCS_CMYK || s->d.jpeg_color_space == JCS_YCCK;
	if (s->d.num_components == 4 && !s->cmyk) {
		// Four components without an Adobe marker: libjpeg calls it CMYK.
		s->cmyk = 1;
	}
	s->d.out_color_space = s->cmyk ? JCS_CMYK : JCS_EXT_RGB;
	s->d.scale_num = 1;
	s->d.scale_denom = (unsigned int)denom;
	jpeg_start_decompress(&s->d);
	if (s->cmyk) {
		s->tmp = malloc((size_t)s->d.output_width * 4);
		if (s->tmp == NULL) {
			snprintf(msg, JMSG_LENGTH_MAX, "out of memory");
			rj_close(s);
			*rc = -1;
			return NULL;
		}
	}
	*ow = (int)s->d.output_width;
	*oh = (int)s->d.output_height;
	*rc = 0;
	return s;
}

// rj_read decodes up to max rows into out (max rows of output_width*3
// bytes) and returns how many it wrote, or -1 on an error.
static int rj_read(rj_dec *s, unsigned char *out, int max, char *msg) {
	if (setjmp(s->e.jb)) {
		memcpy(msg, s->e.msg, JMSG_LENGTH_MAX);
		return -1;
	}
	size_t W = s->d.output_width, stride = W * 3;
	int done = 0;
	while (done < max && s->d.output_scanline < s->d.output_height) {
		if (s->cmyk) {
			JSAMPROW rp = s->tmp;
			if (jpeg_read_scanlines(&s->d, &rp, 1) != 1) {
				break;
			}
			// Adobe CMYK is stored inverted (255 = no ink). PIL's CMYK;I
			// unpacking plus its cmyk2rgb: R = nk - nk*C/255 with
			// nk = 255 - K and C = 255 - stored c.
			unsigned char *row = out + (size_t)done * stride;
			for (size_t x = 0; x < W; x++) {
				unsigned int nk = s->tmp[4 * x + 3];
				for (int k = 0; k < 3; k++) {
					unsigned int c = 255u - s->tmp[4 * x + k];
					row[3 * x + k] = (unsigned char)(nk - rj_div255(c * nk));
				}
			}
			done++;
		} else {
			JSAMPROW rows[16];
			int k;
			for (k = 0; k < 16 && done + k < max; k++) {
				rows[k] = out + (size_t)(done + k) * stride;
			}
			JDIMENSION got = jpeg_read_scanlines(&s->d, rows, (JDIMENSION)k);
			if (got == 0) {
				break;
			}
			done += (int)got;
		}
	}
	if (s->e.hit_row >= 0 && ((size_t)s->d.output_scanline - (size_t)s->e.hit_row) * stride > s->max_made_up) {
		snprintf(msg, JMSG_LENGTH_MAX, "the scan data ends at row %ld of %u (premature end of data segment): the rest of the image would be made up",
		         s->e.hit_row, s->d.output_height);
		return -1;
	}
	if (done == 0 && s->d.output_scanline < s->d.output_height) {
		snprintf(msg, JMSG_LENGTH_MAX, "decoder stopped at row %u of %u", s->d.output_scanline, s->d.output_height);
		return -1;
	}
	return done;
}

// rj_finish checks the end of the data and returns the warning count.
static int rj_finish(rj_dec *s, int *warnings, char *msg) {
	if (setjmp(s->e.jb)) {
		memcpy(msg, s->e.msg, JMSG_LENGTH_MAX);
		return -1;
	}
	jpeg_finish_decompress(&s->d);
	*warnings = (int)s->e.pub.num_warnings;
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// Available reports whether this build decodes with libjpeg-turbo (true with
// cgo; the stub built without cgo says false).
const Available = true

// Header is what the frame header says.
type Header struct {
	Width, Height int
	Components    int    // 1 (grey), 3 (YCbCr/RGB) or 4 (CMYK/YCCK)
	ColorSpace    string // "gray", "ycbcr", "rgb", "cmyk", "ycck" or "unknown"
}

// Result is a decoded image.
type Result struct {
	Width, Height int     // decoded (possibly scaled) size
	Pix           []uint8 // RGB, row-major, len Width*Height*3
	Denom         int     // the scale the image was decoded at: 1/Denom
	Warnings      int     // corrupt-data warnings libjpeg recovered from
}

var colorSpaces = map[C.int]string{
	C.JCS_GRAYSCALE: "gray", C.JCS_YCbCr: "ycbcr", C.JCS_RGB: "rgb",
	C.JCS_CMYK: "cmyk", C.JCS_YCCK: "ycck",
}

func cmsg(b []C.char) string {
	return C.GoString(&b[0])
}

// ReadHeader reads the image size and colour space without decoding pixels.
func ReadHeader(data []byte) (Header, error) {
	if len(data) == 0 {
		return Header{}, errors.New("empty file")
	}
	var w, h, comps, cs C.int
	msg := make([]C.char, C.JMSG_LENGTH_MAX)
	if C.rj_header((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), &w, &h, &comps, &cs, &msg[0]) != 0 {
		return Header{}, fmt.Errorf("libjpeg: %s", cmsg(msg))
	}
	name, ok := colorSpaces[cs]
	if !ok {
		name = "unknown"
	}
	return Header{Width: int(w), Height: int(h), Components: int(comps), ColorSpace: name}, nil
}

// Decode decodes a JPEG held in data to RGB. With minSide > 0 it decodes at
// the smallest DCT scale (1/2, 1/4, 1/8) whose shorter side is still at
// least minSide pixels; with minSide <= 0 at full size.
//
// Memory follows the data, not the header: the output grows as rows are
// decoded (its first allocation is what a photo of this file's size
// usually needs), so a few bytes claiming 12336x12336 pixels fail at their
// first row having allocated a few MiB, not 435 MiB; rows libjpeg makes up
// after the data ends are bounded the same way (maxMadeUp).
func Decode(data []byte, minSide int) (*Result, error) {
	hd, err := ReadHeader(data)
	if err != nil {
		return nil, err
	}
	if hd.Width <= 0 || hd.Height <= 0 {
		return nil, fmt.Errorf("libjpeg: image has size %dx%d", hd.Width, hd.Height)
	}
	denom := Denom(hd.Width, hd.Height, minSide)
	var ow, oh, rc, warnings C.int
	var need C.size_t
	msg := make([]C.char, C.JMSG_LENGTH_MAX)
	s := C.rj_open((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), C.int(denom),
		C.size_t(maxCoefBytes(len(data))), C.size_t(maxMadeUp(len(data))), &ow, &oh, &need, &rc, &msg[0])
	switch rc {
	case 0:
	case -2:
		return nil, fmt.Errorf("libjpeg: a progressive %dx%d image needs %d MiB of coefficient buffers, too many for a file of %d bytes (corrupt header?)",
			hd.Width, hd.Height, uint64(need)>>20, len(data))
	default:
		return nil, fmt.Errorf("libjpeg: %s", cmsg(msg))
	}
	defer C.rj_close(s)
	w, h := int(ow), int(oh)
	rowBytes := w * 3
	pix := make([]uint8, 0, min(w*h*3, firstAlloc(len(data), rowBytes)))
	for rows := 0; rows < h; {
		band := min(h-rows, 16)
		if need := (rows + band) * rowBytes; need > cap(pix) {
			pix = slices.Grow(pix[:rows*rowBytes], min(w*h*3, max(2*cap(pix), need))-rows*rowBytes)
		}
		pix = pix[:(rows+band)*rowBytes]
		n := C.rj_read(s, (*C.uchar)(unsafe.Pointer(&pix[rows*rowBytes])), C.int(band), &msg[0])
		if n < 0 {
			return nil, fmt.Errorf("libjpeg: %s", cmsg(msg))
		}
		rows += int(n)
		pix = pix[:rows*rowBytes]
	}
	if C.rj_finish(s, &warnings, &msg[0]) != 0 {
		return nil, fmt.Errorf("libjpeg: %s", cmsg(msg))
	}
	return &Result{Width: w, Height: h, Pix: pix, Denom: denom, Warnings: int(warnings)}, nil
}

// firstAlloc is the output's first capacity for a file of n bytes: 64 times
// the file (JPEG photos compress RGB about 10:1, rarely past 50:1) and at
// least 4 MiB, so real photos decode into one allocation.
func firstAlloc(n, rowBytes int) int {
	return max(64*n, 4<<20, 16*rowBytes)
}

// maxMadeUp bounds the output libjpeg may make up (grey) after the scan data
// of a file of n bytes ends early ("premature end of data segment", a
// warning PIL ignores too): a truncated photo still decodes, but a few
// bytes claiming 12336x12336 pixels cannot become a 435 MiB grey image.
func maxMadeUp(n int) int { return firstAlloc(n, 0) }

// maxCoefBytes bounds a progressive image's coefficient buffers for a file
// of n bytes: 64 MiB (a 20-megapixel 4:2:0 photo) whatever the file, and
// beyond that 1024 bytes of buffer per byte of file.
func maxCoefBytes(n int) int {
	return max(64<<20, 1024*n)
}
