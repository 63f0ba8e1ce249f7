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
		c->err->num_warnings++;
	}
}

static void rj_setup(struct jpeg_decompress_struct *d, rj_err *e) {
	memset(d, 0, sizeof *d);
	memset(e, 0, sizeof *e);
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

// rj_decode decodes the image scaled by 1/denom into out (cap bytes, which
// must be exactly output_width*output_height*3).
static int rj_decode(const unsigned char *data, unsigned long n, int denom,
                     unsigned char *out, size_t cap, int *ow, int *oh,
                     int *warnings, char *msg) {
	struct jpeg_decompress_struct d;
	rj_err e;
	unsigned char *volatile tmp = NULL;
	rj_setup(&d, &e);
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		free(tmp);
		memcpy(msg, e.msg, JMSG_LENGTH_MAX);
		return -1;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, n);
	jpeg_read_header(&d, TRUE);
	int cmyk = d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK;
	if (d.num_components == 4 && !cmyk) {
		// Four components without an Adobe marker: libjpeg calls it CMYK.
		cmyk = 1;
	}
	d.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGB;
	d.scale_num = 1;
	d.scale_denom = (unsigned int)denom;
	jpeg_start_decompress(&d);
	size_t W = d.output_width, H = d.output_height;
	*ow = (int)W;
	*oh = (int)H;
	if (W * H * 3 != cap) {
		snprintf(msg, JMSG_LENGTH_MAX, "output is %zux%zu, buffer holds %zu bytes", W, H, cap);
		jpeg_destroy_decompress(&d);
		return -1;
	}
	size_t stride = W * 3;
	if (cmyk) {
		tmp = malloc(W * 4);
		if (tmp == NULL) {
			snprintf(msg, JMSG_LENGTH_MAX, "out of memory");
			jpeg_destroy_decompress(&d);
			return -1;
		}
		while (d.output_scanline < H) {
			unsigned char *row = out + (size_t)d.output_scanline * stride;
			JSAMPROW rp = tmp;
			if (jpeg_read_scanlines(&d, &rp, 1) != 1) {
				break;
			}
			// Adobe CMYK is stored inverted (255 = no ink). PIL's CMYK;I
			// unpacking plus its cmyk2rgb: R = nk - nk*C/255 with
			// nk = 255 - K and C = 255 - stored c.
			for (size_t x = 0; x < W; x++) {
				unsigned int nk = tmp[4 * x + 3];
				for (int k = 0; k < 3; k++) {
					unsigned int c = 255u - tmp[4 * x + k];
					row[3 * x + k] = (unsigned char)(nk - rj_div255(c * nk));
				}
			}
		}
	} else {
		JSAMPROW rows[16];
		while (d.output_scanline < H) {
			int k;
			for (k = 0; k < 16 && d.output_scanline + k < H; k++) {
				rows[k] = out + (size_t)(d.output_scanline + k) * stride;
			}
			if (jpeg_read_scanlines(&d, rows, (JDIMENSION)k) == 0) {
				break;
			}
		}
	}
	if (d.output_scanline < H) {
		snprintf(msg, JMSG_LENGTH_MAX, "decoder stopped at row %u of %zu", d.output_scanline, H);
		jpeg_destroy_decompress(&d);
		free(tmp);
		return -1;
	}
	jpeg_finish_decompress(&d);
	*warnings = (int)e.pub.num_warnings;
	jpeg_destroy_decompress(&d);
	free(tmp);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
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
func Decode(data []byte, minSide int) (*Result, error) {
	hd, err := ReadHeader(data)
	if err != nil {
		return nil, err
	}
	if hd.Width <= 0 || hd.Height <= 0 {
		return nil, fmt.Errorf("libjpeg: image has size %dx%d", hd.Width, hd.Height)
	}
	denom := Denom(hd.Width, hd.Height, minSide)
	sw, sh := ScaledSize(hd.Width, hd.Height, denom)
	pix := make([]uint8, sw*sh*3)
	var ow, oh, warnings C.int
	msg := make([]C.char, C.JMSG_LENGTH_MAX)
	if C.rj_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), C.int(denom),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.size_t(len(pix)), &ow, &oh, &warnings, &msg[0]) != 0 {
		return nil, fmt.Errorf("libjpeg: %s", cmsg(msg))
	}
	return &Result{Width: int(ow), Height: int(oh), Pix: pix, Denom: denom, Warnings: int(warnings)}, nil
}
