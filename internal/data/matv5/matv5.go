// Package matv5 reads the subset of MATLAB Level 5 MAT-files (the format of
// MATLAB's save -v6 and -v7, and of scipy.io.savemat) that the Stanford Dogs
// and Stanford Cars annotation files use:
//
//   - the 128-byte header, little- or big-endian ("IM"/"MI" indicator);
//   - miCOMPRESSED elements (zlib streams holding one element each);
//   - miMATRIX elements of the numeric classes (double, single, int8 … uint64),
//     logical arrays, complex arrays, char arrays (miUINT8/miUTF8,
//     miUINT16/miUTF16, miUTF32 data), cell arrays and struct arrays;
//   - the small data element format (data of at most 4 bytes packed into the
//     tag).
//
// Sparse, object, function-handle and opaque arrays are not decoded: a
// top-level variable of such a class is skipped and listed in File.Skipped
// rather than failing the whole file. MATLAB v7.3 files are HDF5 and are
// rejected with an error that says so; v4 files have no header and are
// rejected too.
//
// Numeric data of every class is converted to float64, the way MATLAB itself
// stores most annotation values; int64/uint64 values beyond 2^53 lose
// precision. Arrays are column-major, as in MATLAB: element (i, j) of an
// r×c array is at index i + j*r.
package matv5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Data types of data elements (the mi* constants of the MAT-file format).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// Class is the MATLAB array class (the mx*_CLASS constants).
type Class uint8

// Array classes.
const (
	Cell     Class = 1
	Struct   Class = 2
	Object   Class = 3
	Char     Class = 4
	Sparse   Class = 5
	Double   Class = 6
	Single   Class = 7
	Int8     Class = 8
	Uint8    Class = 9
	Int16    Class = 10
	Uint16   Class = 11
	Int32    Class = 12
	Uint32   Class = 13
	Int64    Class = 14
	Uint64   Class = 15
	Function Class = 16
	Opaque   Class = 17
)

var classNames = map[Class]string{
	Cell: "cell", Struct: "struct", Object: "object", Char: "char",
	Sparse: "sparse", Double: "double", Single: "single", Int8: "int8",
	Uint8: "uint8", Int16: "int16", Uint16: "uint16", Int32: "int32",
	Uint32: "uint32", Int64: "int64", Uint64: "uint64",
	Function: "function_handle", Opaque: "opaque",
}

func (c Class) String() string {
	if s, ok := classNames[c]; ok {
		return s
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// IsNumeric reports whether c is one of the numeric classes.
func (c Class) IsNumeric() bool { return c >= Double && c <= Uint64 }

// Array is one decoded MATLAB array (a variable, a cell element or a struct
// field value).
type Array struct {
	Name    string // variable name; empty for cell elements and field values
	Class   Class
	Dims    []int // at least two dimensions
	Logical bool  // a logical array (Class is Uint8 then, as MATLAB writes it)
	Complex bool
	Global  bool

	// Real holds the values of numeric and logical arrays, column-major.
	Real []float64
	// Imag holds the imaginary parts of a complex array.
	Imag []float64
	// Chars holds the characters of a char array, column-major. MATLAB
	// stores UTF-16 code units, one per element; they are kept as such (a
	// character outside the Basic Multilingual Plane occupies two elements,
	// as in MATLAB) and paired up again by Rows and String.
	Chars []rune
	// Cells holds the elements of a cell array, column-major.
	Cells []*Array
	// Fields holds the field names of a struct array, in file order.
	Fields []string
	// Values holds the field values of a struct array: the value of field j
	// of element i is Values[i*len(Fields)+j]. Use Field.
	Values []*Array
}

// Len is the number of elements (the product of Dims).
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Dims {
		n *= d
	}
	return n
}

// IsEmpty reports whether the array has no elements.
func (a *Array) IsEmpty() bool { return a.Len() == 0 }

// Rows returns the rows of a char array as strings (an r×c char matrix has r
// rows of c characters; MATLAB pads shorter rows with spaces, which are kept).
func (a *Array) Rows() ([]string, error) {
	if a.Class != Char {
		return nil, fmt.Errorf("%s is a %s array, not char", a.label(), a.Class)
	}
	if len(a.Dims) != 2 {
		return nil, fmt.Errorf("%s is a %d-D char array; only 2-D char arrays have rows", a.label(), len(a.Dims))
	}
	r, c := a.Dims[0], a.Dims[1]
	rows := make([]string, r)
	units := make([]uint16, c)
	for i := 0; i < r; i++ {
		var sb strings.Builder
		units = units[:0]
		for j := 0; j < c; j++ {
			ch := a.Chars[i+j*r]
			if ch <= 0xFFFF {
				units = append(units, uint16(ch))
				continue
			}
			// A code point decoded from UTF-8 or UTF-32 data: flush and keep.
			sb.WriteString(string(utf16.Decode(units)))
			units = units[:0]
			sb.WriteRune(ch)
		}
		sb.WriteString(string(utf16.Decode(units)))
		rows[i] = sb.String()
	}
	return rows, nil
}

// String returns the text of a char array with at most one row (an empty
// char array gives ""). It fails for other classes and multi-row arrays.
func (a *Array) String() (string, error) {
	rows, err := a.Rows()
	if err != nil {
		return "", err
	}
	switch len(rows) {
	case 0:
		return "", nil
	case 1:
		return rows[0], nil
	}
	return "", fmt.Errorf("%s is a %d×%d char matrix, not a single string", a.label(), a.Dims[0], a.Dims[1])
}

// Scalar returns the single value of a numeric or logical array with exactly
// one element.
func (a *Array) Scalar() (float64, error) {
	if !a.Class.IsNumeric() {
		return 0, fmt.Errorf("%s is a %s array, not numeric", a.label(), a.Class)
	}
	if len(a.Real) != 1 {
		return 0, fmt.Errorf("%s has %d elements, want 1", a.label(), len(a.Real))
	}
	return a.Real[0], nil
}

// Field returns the value of field name of struct element i (column-major
// index), or nil when the struct has no such field.
func (a *Array) Field(i int, name string) *Array {
	if a.Class != Struct || i < 0 || i >= a.Len() {
		return nil
	}
	for j, f := range a.Fields {
		if f == name {
			return a.Values[i*len(a.Fields)+j]
		}
	}
	return nil
}

func (a *Array) label() string {
	if a.Name != "" {
		return fmt.Sprintf("variable %q", a.Name)
	}
	return "array"
}

// File is a decoded MAT-file.
type File struct {
	Header    string // the descriptive text of the header, trailing blanks trimmed
	ByteOrder binary.ByteOrder
	Vars      []*Array         // in file order
	Skipped   map[string]error // top-level variables of classes this package does not decode
}

// Var returns the variable called name, or nil.
func (f *File) Var(name string) *Array {
	for _, v := range f.Vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// ErrUnsupported is wrapped by the errors for array classes this package
// does not decode (sparse, object, function handles, opaque).
var ErrUnsupported = errors.New("unsupported")

// ReadFile reads and decodes the MAT-file at path. Its errors name the file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("matv5: %w", err)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("matv5: %s: %w", path, err)
	}
	return f, nil
}

// Read reads all of r and decodes it.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Decode(data)
}

const headerLen = 128

// What a file may make this package allocate, so that a corrupt or hostile
// file cannot exhaust memory. The largest real annotation files (Cars'
// cars_annos.mat, 16,185 structs of 7 fields; Dogs' file_list.mat, 20,580
// images) hold about 7 MB uncompressed and decode to about 30 MB, so the
// limits leave room for ten times that.
const (
	// maxInflated bounds what the miCOMPRESSED elements of one file may
	// inflate to, in all.
	maxInflated = 64 << 20
	// maxDecoded bounds the arrays decoded from one file (by arrayCost per
	// array and the size of its values).
	maxDecoded = 256 << 20
	// arrayCost is about what one Array costs besides its values.
	arrayCost = 256
)

// Decode decodes a whole MAT-file held in data.
func Decode(data []byte) (*File, error) {
	if len(data) < headerLen {
		if bytes.HasPrefix(data, []byte("\x89HDF")) {
			return nil, errors.New("an HDF5 file (MATLAB v7.3), not a Level 5 MAT-file: re-save it in MATLAB with save(..., '-v7')")
		}
		return nil, fmt.Errorf("truncated: %d bytes, shorter than the 128-byte MAT-file header", len(data))
	}
	f := &File{Skipped: map[string]error{}}
	f.Header = strings.TrimRight(string(data[:116]), " \x00")
	switch string(data[126:128]) {
	case "IM":
		f.ByteOrder = binary.LittleEndian
	case "MI":
		f.ByteOrder = binary.BigEndian
	default:
		if bytes.Contains(data[:headerLen], []byte("HDF")) || strings.Contains(f.Header, "7.3") {
			return nil, errors.New("an HDF5 file (MATLAB v7.3), not a Level 5 MAT-file: re-save it in MATLAB with save(..., '-v7')")
		}
		return nil, fmt.Errorf("not a Level 5 MAT-file: bad endian indicator %q at byte 126 (a MATLAB v4 file, or not a MAT-file)", data[126:128])
	}
	if !strings.HasPrefix(f.Header, "MATLAB") {
		return nil, fmt.Errorf("not a Level 5 MAT-file: header text %q does not start with \"MATLAB\"", truncate(f.Header, 40))
	}
	if v := f.ByteOrder.Uint16(data[124:126]); v != 0x0100 {
		if v == 0x0200 {
			return nil, errors.New("an HDF5 file (MATLAB v7.3), not a Level 5 MAT-file: re-save it in MATLAB with save(..., '-v7')")
		}
		return nil, fmt.Errorf("unsupported MAT-file version 0x%04x (want 0x0100)", v)
	}
	d := &decoder{order: f.ByteOrder, inflateLeft: maxInflated, decodeLeft: maxDecoded}
	pos := headerLen
	for pos < len(data) {
		if len(data)-pos < 8 {
			return nil, fmt.Errorf("truncated: %d stray bytes at offset %d where a data element tag (8 bytes) should be", len(data)-pos, pos)
		}
		typ, n, body, next, err := d.element(data, pos)
		if err != nil {
			return nil, err
		}
		switch typ {
		case miCOMPRESSED:
			inflated, err := d.inflate(body)
			if err != nil {
				return nil, fmt.Errorf("compressed element at offset %d: %w", pos, err)
			}
			if len(inflated) < 8 {
				return nil, fmt.Errorf("compressed element at offset %d: inflates to %d bytes, too short for an element", pos, len(inflated))
			}
			ityp, _, ibody, _, err := d.element(inflated, 0)
			if err != nil {
				return nil, fmt.Errorf("compressed element at offset %d: %w", pos, err)
			}
			if ityp != miMATRIX {
				return nil, fmt.Errorf("compressed element at offset %d holds data type %d, want miMATRIX (14)", pos, ityp)
			}
			if err := f.addVar(d, ibody, pos); err != nil {
				return nil, err
			}
		case miMATRIX:
			if err := f.addVar(d, body, pos); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("top-level element at offset %d has data type %d (%d bytes), want miMATRIX (14) or miCOMPRESSED (15)", pos, typ, n)
		}
		pos = next
	}
	return f, nil
}

func (f *File) addVar(d *decoder, body []byte, pos int) error {
	a, err := d.matrix(body)
	if err != nil {
		var s *skipError
		if errors.As(err, &s) {
			f.Skipped[s.name] = s.err
			return nil
		}
		return fmt.Errorf("variable at offset %d: %w", pos, err)
	}
	f.Vars = append(f.Vars, a)
	return nil
}

type unsupportedError struct{ class Class }

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("%s arrays are %s", e.class, ErrUnsupported)
}

func (e *unsupportedError) Unwrap() error { return ErrUnsupported }

// skipError marks a top-level variable that holds an array of an
// unsupported class somewhere inside it.
type skipError struct {
	name string
	err  error
}

func (e *skipError) Error() string { return fmt.Sprintf("variable %q: %v", e.name, e.err) }
func (e *skipError) Unwrap() error { return e.err }

// inflate decompresses one miCOMPRESSED element: the tag of the element it
// holds first, then exactly the bytes that tag declares (and at most 7 of
// padding), so a stream that goes on inflating is cut off where its header
// says it ends; what all the file's elements declare may not exceed
// maxInflated.
func (d *decoder) inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	zerr := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errors.New("zlib: truncated stream")
		}
		return fmt.Errorf("zlib: %w", err)
	}
	tag := make([]byte, 8, 64)
	if _, err := io.ReadFull(zr, tag); err != nil {
		return nil, zerr(err)
	}
	var n uint64 // bytes after the tag
	if d.order.Uint32(tag)>>16 == 0 {
		n = uint64(d.order.Uint32(tag[4:]))
	}
	if want := 8 + n; want > uint64(d.inflateLeft) {
		return nil, fmt.Errorf("holds an element that declares %d bytes, more than the %d MiB a MAT-file may inflate to in all (%d MiB left); an annotation list needs under 10 MiB", n, maxInflated>>20, d.inflateLeft>>20)
	}
	d.inflateLeft -= int(8 + n)
	// ReadAll grows with what the stream really holds, not with n.
	body, err := io.ReadAll(io.LimitReader(zr, int64(n)))
	if err != nil {
		return nil, zerr(err)
	}
	if uint64(len(body)) < n {
		return nil, fmt.Errorf("zlib: truncated stream: %d of the %d bytes its element declares", len(body), n)
	}
	var pad [8]byte
	for k := 0; ; {
		m, err := zr.Read(pad[k:])
		k += m
		if err == io.EOF {
			break // the stream ended and its checksum matched
		}
		if err != nil {
			return nil, zerr(err)
		}
		if k == len(pad) {
			return nil, fmt.Errorf("inflates past the %d bytes its element declares", 8+n)
		}
	}
	return append(tag, body...), nil
}

type decoder struct {
	order binary.ByteOrder
	depth int
	// inflateLeft and decodeLeft are what is left of maxInflated and
	// maxDecoded.
	inflateLeft int
	decodeLeft  int
}

// alloc takes n bytes from what the file may decode to.
func (d *decoder) alloc(n int) error {
	if n > d.decodeLeft {
		return fmt.Errorf("decodes to more than %d MiB, more than any annotation list needs: corrupt or not an annotation file", maxDecoded>>20)
	}
	d.decodeLeft -= n
	return nil
}

// maxDepth bounds the nesting of cells and structs.
const maxDepth = 64

// element reads the data element whose tag starts at buf[pos]: its data type,
// byte count, data, and the offset of the next element (after padding).
func (d *decoder) element(buf []byte, pos int) (typ uint32, n int, body []byte, next int, err error) {
	if len(buf)-pos < 8 {
		return 0, 0, nil, 0, fmt.Errorf("truncated: data element tag at offset %d needs 8 bytes, %d left", pos, len(buf)-pos)
	}
	w := d.order.Uint32(buf[pos:])
	if hi := w >> 16; hi != 0 {
		// Small data element: byte count in the upper half, type in the
		// lower, up to 4 bytes of data in the second word.
		typ, n = w&0xFFFF, int(hi)
		if n > 4 {
			return 0, 0, nil, 0, fmt.Errorf("corrupt small data element at offset %d: %d bytes (at most 4)", pos, n)
		}
		return typ, n, buf[pos+4 : pos+4+n], pos + 8, nil
	}
	typ = w
	n64 := uint64(d.order.Uint32(buf[pos+4:]))
	start := pos + 8
	if n64 > uint64(len(buf)-start) {
		return 0, 0, nil, 0, fmt.Errorf("truncated: data element at offset %d (type %d) declares %d bytes, only %d left", pos, typ, n64, len(buf)-start)
	}
	n = int(n64)
	next = start + n
	if typ != miCOMPRESSED {
		// Elements are padded to 8 bytes; the padding of the last element of
		// a buffer may be missing in files written by some tools.
		next = min(start+(n+7)&^7, len(buf))
	}
	return typ, n, buf[start : start+n], next, nil
}

// matrix decodes the body of an miMATRIX element.
func (d *decoder) matrix(body []byte) (arr *Array, err error) {
	if err := d.alloc(arrayCost); err != nil {
		return nil, err
	}
	if len(body) == 0 {
		// MATLAB writes empty cell elements as miMATRIX elements of 0 bytes.
		return &Array{Class: Double, Dims: []int{0, 0}}, nil
	}
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > maxDepth {
		return nil, fmt.Errorf("cells or structs nested deeper than %d levels", maxDepth)
	}
	pos := 0
	next := func(what string, want ...uint32) (uint32, []byte, error) {
		if pos >= len(body) {
			return 0, nil, fmt.Errorf("truncated array: missing %s", what)
		}
		typ, _, b, nx, err := d.element(body, pos)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(want) > 0 && !contains(want, typ) {
			return 0, nil, fmt.Errorf("%s has data type %d, want %v", what, typ, want)
		}
		pos = nx
		return typ, b, nil
	}

	// Array flags.
	_, fl, err := next("array flags", miUINT32)
	if err != nil {
		return nil, err
	}
	if len(fl) < 8 {
		return nil, fmt.Errorf("array flags: %d bytes, want 8", len(fl))
	}
	flags := d.order.Uint32(fl)
	a := &Array{
		Class:   Class(flags & 0xFF),
		Complex: flags&0x0800 != 0,
		Global:  flags&0x0400 != 0,
		Logical: flags&0x0200 != 0,
	}

	// Dimensions.
	_, db, err := next("dimensions", miINT32)
	if err != nil {
		return nil, err
	}
	if len(db) < 8 || len(db)%4 != 0 {
		return nil, fmt.Errorf("dimensions: %d bytes, want a multiple of 4 and at least 8", len(db))
	}
	total := 1
	for i := 0; i+4 <= len(db); i += 4 {
		v := int32(d.order.Uint32(db[i:]))
		if v < 0 {
			return nil, fmt.Errorf("dimensions: negative size %d", v)
		}
		a.Dims = append(a.Dims, int(v))
		if v != 0 && total > math.MaxInt32/int(v) {
			return nil, fmt.Errorf("dimensions %v: too many elements", a.Dims)
		}
		total *= int(v)
	}
	if total < 0 {
		total = 0
	}

	// Name.
	_, nb, err := next("array name", miINT8, miUINT8, miUTF8)
	if err != nil {
		return nil, err
	}
	a.Name = string(nb)
	if d.depth == 1 {
		defer func() {
			if err != nil && errors.Is(err, ErrUnsupported) {
				err = &skipError{name: a.Name, err: err}
			}
		}()
	}

	switch a.Class {
	case Double, Single, Int8, Uint8, Int16, Uint16, Int32, Uint32, Int64, Uint64:
		typ, rb, err := next("real part")
		if err != nil {
			return nil, err
		}
		if a.Real, err = d.numbers(typ, rb, total); err != nil {
			return nil, fmt.Errorf("%s real part: %w", a.Class, err)
		}
		if a.Complex {
			typ, ib, err := next("imaginary part")
			if err != nil {
				return nil, err
			}
			if a.Imag, err = d.numbers(typ, ib, total); err != nil {
				return nil, fmt.Errorf("%s imaginary part: %w", a.Class, err)
			}
		}
	case Char:
		if total == 0 && pos >= len(body) {
			a.Chars = []rune{}
			break
		}
		typ, cb, err := next("char data")
		if err != nil {
			return nil, err
		}
		if a.Chars, err = d.chars(typ, cb, total); err != nil {
			return nil, fmt.Errorf("char data: %w", err)
		}
	case Cell:
		if total > (len(body)-pos)/8 {
			return nil, fmt.Errorf("truncated: %d cell elements in %d bytes", total, len(body)-pos)
		}
		a.Cells = make([]*Array, total)
		for i := range total {
			_, eb, err := next(fmt.Sprintf("cell element %d of %d", i+1, total), miMATRIX)
			if err != nil {
				return nil, err
			}
			if a.Cells[i], err = d.matrix(eb); err != nil {
				return nil, fmt.Errorf("cell element %d: %w", i+1, err)
			}
		}
	case Struct:
		_, lb, err := next("field name length", miINT32)
		if err != nil {
			return nil, err
		}
		if len(lb) < 4 {
			return nil, fmt.Errorf("field name length: %d bytes, want 4", len(lb))
		}
		flen := int(int32(d.order.Uint32(lb)))
		_, fb, err := next("field names", miINT8, miUINT8, miUTF8)
		if err != nil {
			return nil, err
		}
		if flen <= 0 {
			if len(fb) != 0 {
				return nil, fmt.Errorf("field names: %d bytes with a field name length of %d", len(fb), flen)
			}
		} else {
			if len(fb)%flen != 0 {
				return nil, fmt.Errorf("field names: %d bytes is not a multiple of the field name length %d", len(fb), flen)
			}
			for i := 0; i < len(fb); i += flen {
				name := fb[i : i+flen]
				if k := bytes.IndexByte(name, 0); k >= 0 {
					name = name[:k]
				}
				a.Fields = append(a.Fields, string(name))
			}
		}
		if len(a.Fields) > 0 && total > (len(body)-pos)/8/len(a.Fields) {
			return nil, fmt.Errorf("truncated: %d struct elements of %d fields in %d bytes", total, len(a.Fields), len(body)-pos)
		}
		a.Values = make([]*Array, total*len(a.Fields))
		for i := range a.Values {
			el, f := i/len(a.Fields), a.Fields[i%len(a.Fields)]
			what := fmt.Sprintf("struct element %d field %q", el+1, f)
			_, vb, err := next(what, miMATRIX)
			if err != nil {
				return nil, err
			}
			if a.Values[i], err = d.matrix(vb); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		}
	default:
		return nil, &unsupportedError{class: a.Class}
	}
	return a, nil
}

// numbers converts numeric data of data type typ (which may be narrower than
// the array's class: MATLAB stores doubles holding small integers as miUINT8,
// for example) to float64.
func (d *decoder) numbers(typ uint32, b []byte, want int) ([]float64, error) {
	size := map[uint32]int{
		miINT8: 1, miUINT8: 1, miINT16: 2, miUINT16: 2, miINT32: 4, miUINT32: 4,
		miSINGLE: 4, miDOUBLE: 8, miINT64: 8, miUINT64: 8,
	}[typ]
	if size == 0 {
		return nil, fmt.Errorf("data type %d is not numeric", typ)
	}
	if len(b) != want*size {
		return nil, fmt.Errorf("%d bytes of data type %d for %d elements, want %d", len(b), typ, want, want*size)
	}
	if err := d.alloc(8 * want); err != nil {
		return nil, err
	}
	out := make([]float64, want)
	o := d.order
	for i := range out {
		p := b[i*size:]
		switch typ {
		case miINT8:
			out[i] = float64(int8(p[0]))
		case miUINT8:
			out[i] = float64(p[0])
		case miINT16:
			out[i] = float64(int16(o.Uint16(p)))
		case miUINT16:
			out[i] = float64(o.Uint16(p))
		case miINT32:
			out[i] = float64(int32(o.Uint32(p)))
		case miUINT32:
			out[i] = float64(o.Uint32(p))
		case miSINGLE:
			out[i] = float64(math.Float32frombits(o.Uint32(p)))
		case miDOUBLE:
			out[i] = math.Float64frombits(o.Uint64(p))
		case miINT64:
			out[i] = float64(int64(o.Uint64(p)))
		case miUINT64:
			out[i] = float64(o.Uint64(p))
		}
	}
	return out, nil
}

// chars decodes the data of a char array holding want elements.
func (d *decoder) chars(typ uint32, b []byte, want int) ([]rune, error) {
	if err := d.alloc(8 * min(want, len(b))); err != nil {
		return nil, err
	}
	out := make([]rune, 0, min(want, len(b)))
	switch typ {
	case miUINT8, miINT8:
		// One byte per character: Latin-1 (MATLAB's -v6 ASCII/Latin-1 data).
		for _, c := range b {
			out = append(out, rune(c))
		}
	case miUTF8:
		for len(b) > 0 {
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError && n <= 1 {
				return nil, errors.New("invalid UTF-8")
			}
			out = append(out, r)
			b = b[n:]
		}
		if len(out) == want {
			return out, nil // the writer counted code points
		}
		// MATLAB counts UTF-16 code units: a character outside the BMP is
		// two elements. Split such characters into surrogate pairs.
		if want > 2*len(out) {
			return nil, fmt.Errorf("%d UTF-8 characters for %d elements", len(out), want)
		}
		units := make([]rune, 0, want)
		for _, r := range out {
			if r > 0xFFFF {
				r1, r2 := utf16.EncodeRune(r)
				units = append(units, r1, r2)
			} else {
				units = append(units, r)
			}
		}
		out = units
	case miUINT16, miUTF16, miINT16:
		if len(b)%2 != 0 {
			return nil, fmt.Errorf("UTF-16 data of odd length %d", len(b))
		}
		for i := 0; i < len(b); i += 2 {
			out = append(out, rune(d.order.Uint16(b[i:])))
		}
	case miUTF32, miUINT32, miINT32:
		if len(b)%4 != 0 {
			return nil, fmt.Errorf("UTF-32 data of length %d, not a multiple of 4", len(b))
		}
		for i := 0; i < len(b); i += 4 {
			out = append(out, rune(d.order.Uint32(b[i:])))
		}
	default:
		return nil, fmt.Errorf("data type %d is not a character type", typ)
	}
	return checkCount(out, want)
}

func checkCount(rs []rune, want int) ([]rune, error) {
	if len(rs) != want {
		return nil, fmt.Errorf("%d characters for %d elements", len(rs), want)
	}
	return rs, nil
}

func contains(xs []uint32, x uint32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
