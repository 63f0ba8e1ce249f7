package matv5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// The fixtures in testdata are written by scripts/make_mat_fixtures.py with
// scipy.io.savemat; the expected values below are the ones that script writes.

func mustRead(t *testing.T, name string) *File {
	t.Helper()
	f, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustVar(t *testing.T, f *File, name string) *Array {
	t.Helper()
	v := f.Var(name)
	if v == nil {
		t.Fatalf("no variable %q", name)
	}
	return v
}

func cellStrings(t *testing.T, a *Array) []string {
	t.Helper()
	if a.Class != Cell {
		t.Fatalf("%s: class %s, want cell", a.Name, a.Class)
	}
	var out []string
	for _, c := range a.Cells {
		s, err := c.String()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestDogsLists(t *testing.T) {
	for _, tc := range []struct {
		file   string
		files  []string
		labels []float64
	}{
		{"dogs_train_list.mat", []string{
			"n02085620-Chihuahua/n02085620_10074.jpg",
			"n02085620-Chihuahua/n02085620_10131.jpg",
			"n02085782-Japanese_spaniel/n02085782_1039.jpg",
			"n02085782-Japanese_spaniel/n02085782_1058.jpg",
			"n02085936-Maltese_dog/n02085936_10073.jpg",
			"n02085936-Maltese_dog/n02085936_10130.jpg",
		}, []float64{1, 1, 2, 2, 3, 3}},
		{"dogs_test_list.mat", []string{
			"n02085620-Chihuahua/n02085620_2650.jpg",
			"n02085782-Japanese_spaniel/n02085782_17.jpg",
			"n02085936-Maltese_dog/n02085936_233.jpg",
			"n02085936-Maltese_dog/n02085936_37.jpg",
		}, []float64{1, 2, 3, 3}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := mustRead(t, tc.file)
			if f.ByteOrder != binary.LittleEndian {
				t.Errorf("byte order %v", f.ByteOrder)
			}
			if !strings.HasPrefix(f.Header, "MATLAB 5.0 MAT-file") {
				t.Errorf("header %q", f.Header)
			}
			fl := mustVar(t, f, "file_list")
			if !reflect.DeepEqual(fl.Dims, []int{len(tc.files), 1}) {
				t.Errorf("file_list dims %v", fl.Dims)
			}
			if got := cellStrings(t, fl); !reflect.DeepEqual(got, tc.files) {
				t.Errorf("file_list = %q, want %q", got, tc.files)
			}
			al := cellStrings(t, mustVar(t, f, "annotation_list"))
			for i := range al {
				if want := strings.TrimSuffix(tc.files[i], ".jpg"); al[i] != want {
					t.Errorf("annotation_list[%d] = %q, want %q", i, al[i], want)
				}
			}
			lb := mustVar(t, f, "labels")
			if lb.Class != Double || !reflect.DeepEqual(lb.Real, tc.labels) {
				t.Errorf("labels %s %v, want double %v", lb.Class, lb.Real, tc.labels)
			}
		})
	}
}

func TestCarsAnnos(t *testing.T) {
	type row struct {
		x1, y1, x2, y2, class float64
		fname                 string
	}
	for _, tc := range []struct {
		file string
		rows []row
	}{
		{"cars_train_annos.mat", []row{
			{3, 5, 30, 20, 1, "00001.jpg"}, {1, 1, 40, 30, 2, "00002.jpg"},
			{10, 2, 39, 29, 3, "00003.jpg"}, {2, 4, 20, 12, 1, "00004.jpg"},
			{300, 200, 1000, 700, 2, "00005.jpg"},
		}},
		{"cars_test_annos_withlabels.mat", []row{
			{5, 6, 25, 26, 3, "00001.jpg"}, {1, 2, 33, 28, 1, "00002.jpg"},
			{4, 4, 36, 24, 2, "00003.jpg"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			a := mustVar(t, mustRead(t, tc.file), "annotations")
			if a.Class != Struct || !reflect.DeepEqual(a.Dims, []int{1, len(tc.rows)}) {
				t.Fatalf("annotations: %s %v", a.Class, a.Dims)
			}
			wantFields := []string{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"}
			if !reflect.DeepEqual(a.Fields, wantFields) {
				t.Errorf("fields %q", a.Fields)
			}
			for i, r := range tc.rows {
				var got row
				for _, p := range []struct {
					name string
					dst  *float64
				}{{"bbox_x1", &got.x1}, {"bbox_y1", &got.y1}, {"bbox_x2", &got.x2}, {"bbox_y2", &got.y2}, {"class", &got.class}} {
					v, err := a.Field(i, p.name).Scalar()
					if err != nil {
						t.Fatal(err)
					}
					*p.dst = v
				}
				s, err := a.Field(i, "fname").String()
				if err != nil {
					t.Fatal(err)
				}
				got.fname = s
				if got != r {
					t.Errorf("element %d = %+v, want %+v", i, got, r)
				}
			}
			// The integer classes survive (the real files use uint8/uint16).
			if c := a.Field(4%len(tc.rows), "class").Class; c != Uint8 {
				t.Errorf("class field has class %s, want uint8", c)
			}
			if a.Field(0, "nope") != nil || a.Field(len(tc.rows), "class") != nil {
				t.Error("Field returned a value for a missing field or element")
			}
		})
	}
	a := mustVar(t, mustRead(t, "cars_train_annos.mat"), "annotations")
	if c := a.Field(4, "bbox_x2").Class; c != Uint16 {
		t.Errorf("bbox_x2 of 1000 has class %s, want uint16", c)
	}
}

func TestCarsMeta(t *testing.T) {
	cn := mustVar(t, mustRead(t, "cars_meta.mat"), "class_names")
	want := []string{"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"}
	if !reflect.DeepEqual(cn.Dims, []int{1, 3}) {
		t.Errorf("dims %v", cn.Dims)
	}
	if got := cellStrings(t, cn); !reflect.DeepEqual(got, want) {
		t.Errorf("class_names = %q", got)
	}
}

func TestTypes(t *testing.T) {
	for _, name := range []string{"types.mat", "types_z.mat"} {
		t.Run(name, func(t *testing.T) {
			f := mustRead(t, name)
			num := func(v string, class Class, dims []int, want []float64) {
				t.Helper()
				a := mustVar(t, f, v)
				if a.Class != class || !reflect.DeepEqual(a.Dims, dims) || !reflect.DeepEqual(a.Real, want) {
					t.Errorf("%s = %s %v %v, want %s %v %v", v, a.Class, a.Dims, a.Real, class, dims, want)
				}
			}
			num("d", Double, []int{2, 3}, []float64{1, 4, 2, 5.5, 3, -6.25})
			num("s", Single, []int{1, 2}, []float64{0.5, -1.5})
			num("i8", Int8, []int{1, 2}, []float64{-128, 127})
			num("u8", Uint8, []int{1, 2}, []float64{0, 255})
			num("i16", Int16, []int{1, 2}, []float64{-32768, 32767})
			num("u16", Uint16, []int{1, 2}, []float64{0, 65535})
			num("i32", Int32, []int{1, 2}, []float64{-2147483648, 2147483647})
			num("u32", Uint32, []int{1, 2}, []float64{0, 4294967295})
			num("i64", Int64, []int{1, 2}, []float64{-(1 << 40), 1 << 40})
			num("u64", Uint64, []int{1, 1}, []float64{1 << 50})
			num("scalar", Double, []int{1, 1}, []float64{42})
			num("empty", Double, []int{0, 0}, []float64{})
			cube := make([]float64, 24)
			// numpy's C-order arange reshaped to 2×3×4, stored column-major.
			for i := range 2 {
				for j := range 3 {
					for k := range 4 {
						cube[i+2*j+6*k] = float64(i*12 + j*4 + k)
					}
				}
			}
			num("cube", Double, []int{2, 3, 4}, cube)

			z := mustVar(t, f, "z")
			if !z.Complex || !reflect.DeepEqual(z.Real, []float64{1, -3.5}) || !reflect.DeepEqual(z.Imag, []float64{2, -0.5}) {
				t.Errorf("z = complex %v %v %v", z.Complex, z.Real, z.Imag)
			}
			b := mustVar(t, f, "b")
			if !b.Logical || b.Class != Uint8 || !reflect.DeepEqual(b.Real, []float64{1, 0, 1}) {
				t.Errorf("b = logical %v %s %v", b.Logical, b.Class, b.Real)
			}
			str := func(v, want string) {
				t.Helper()
				s, err := mustVar(t, f, v).String()
				if err != nil || s != want {
					t.Errorf("%s = %q, %v; want %q", v, s, err, want)
				}
			}
			str("str", "hello world")
			str("uni", "Zoë über 中文")
			str("emptystr", "")
			cm := mustVar(t, f, "charmat")
			rows, err := cm.Rows()
			if err != nil || !reflect.DeepEqual(rows, []string{"abc", "xyz"}) {
				t.Errorf("charmat rows %q %v", rows, err)
			}
			if _, err := cm.String(); err == nil {
				t.Error("String of a 2-row char matrix did not fail")
			}
			if _, err := mustVar(t, f, "d").String(); err == nil {
				t.Error("String of a double did not fail")
			}
			if _, err := mustVar(t, f, "d").Scalar(); err == nil {
				t.Error("Scalar of a 2×3 array did not fail")
			}

			n := mustVar(t, f, "nested")
			if n.Class != Cell || len(n.Cells) != 3 {
				t.Fatalf("nested: %s %d cells", n.Class, len(n.Cells))
			}
			if s, _ := n.Cells[0].String(); s != "a" {
				t.Errorf("nested{1} = %q", s)
			}
			if c := n.Cells[1]; c.Class != Int16 || !reflect.DeepEqual(c.Real, []float64{1, 2, 3}) {
				t.Errorf("nested{2} = %s %v", c.Class, c.Real)
			}
			sub := n.Cells[2]
			if sub.Class != Cell || !reflect.DeepEqual(sub.Dims, []int{2, 1}) {
				t.Fatalf("nested{3} = %s %v", sub.Class, sub.Dims)
			}
			if s, _ := sub.Cells[0].String(); s != "deep" {
				t.Errorf("nested{3}{1} = %q", s)
			}
			if v, _ := sub.Cells[1].Scalar(); v != 2.25 {
				t.Errorf("nested{3}{2} = %v", v)
			}

			st := mustVar(t, f, "st")
			if st.Class != Struct || !reflect.DeepEqual(st.Dims, []int{2, 1}) || !reflect.DeepEqual(st.Fields, []string{"name", "score", "inner"}) {
				t.Fatalf("st = %s %v %q", st.Class, st.Dims, st.Fields)
			}
			if s, _ := st.Field(1, "name").String(); s != "second" {
				t.Errorf("st(2).name = %q", s)
			}
			if v, _ := st.Field(1, "score").Scalar(); v != -2 {
				t.Errorf("st(2).score = %v", v)
			}
			if v, _ := st.Field(0, "inner").Field(0, "deep").Scalar(); v != 7.5 {
				t.Errorf("st(1).inner.deep = %v", v)
			}
			if !st.Field(1, "inner").IsEmpty() {
				t.Errorf("st(2).inner not empty")
			}
		})
	}
}

func TestSkipUnsupported(t *testing.T) {
	f := mustRead(t, "skip.mat")
	if v, _ := mustVar(t, f, "before").Scalar(); v != 1 {
		t.Errorf("before = %v", v)
	}
	if v, _ := mustVar(t, f, "after").Scalar(); v != 2 {
		t.Errorf("after = %v", v)
	}
	if f.Var("sp") != nil {
		t.Error("sparse variable decoded")
	}
	if err := f.Skipped["sp"]; !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "sparse") {
		t.Errorf("Skipped[sp] = %v", err)
	}
}

// enc writes MAT-file elements in a chosen byte order, for the cases scipy
// cannot produce (big-endian files, small data elements, corrupt files).
type enc struct {
	o     binary.ByteOrder
	small bool // use the small data element format where data fits
}

func (e enc) u32(v uint32) []byte {
	b := make([]byte, 4)
	e.o.PutUint32(b, v)
	return b
}

func (e enc) elem(typ uint32, data []byte) []byte {
	var out []byte
	if e.small && len(data) <= 4 {
		out = append(out, e.u32(uint32(len(data))<<16|typ)...)
		out = append(out, data...)
		return append(out, make([]byte, 4-len(data))...)
	}
	out = append(out, e.u32(typ)...)
	out = append(out, e.u32(uint32(len(data)))...)
	out = append(out, data...)
	return append(out, make([]byte, (8-len(data)%8)%8)...)
}

func (e enc) matrix(class Class, flags uint32, dims []int, name string, parts ...[]byte) []byte {
	var body []byte
	fl := append(e.u32(flags|uint32(class)), 0, 0, 0, 0)
	body = append(body, e.elem(miUINT32, fl)...)
	var db []byte
	for _, d := range dims {
		db = append(db, e.u32(uint32(d))...)
	}
	body = append(body, e.elem(miINT32, db)...)
	body = append(body, e.elem(miINT8, []byte(name))...)
	for _, p := range parts {
		body = append(body, p...)
	}
	return e.elem(miMATRIX, body)
}

func (e enc) header() []byte {
	h := []byte("MATLAB 5.0 MAT-file, written by the racnn tests")
	h = append(h, bytes.Repeat([]byte{' '}, 116-len(h))...)
	h = append(h, make([]byte, 8)...)
	v := make([]byte, 2)
	e.o.PutUint16(v, 0x0100)
	h = append(h, v...)
	m := make([]byte, 2)
	e.o.PutUint16(m, 'M'<<8|'I')
	return append(h, m...)
}

func (e enc) doubles(vs ...float64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		e.o.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return e.elem(miDOUBLE, b)
}

func (e enc) utf16(s string) []byte {
	var b []byte
	for _, r := range s {
		u := make([]byte, 2)
		e.o.PutUint16(u, uint16(r))
		b = append(b, u...)
	}
	return e.elem(miUINT16, b)
}

func (e enc) file(compress bool, vars ...[]byte) []byte {
	out := e.header()
	for _, v := range vars {
		if !compress {
			out = append(out, v...)
			continue
		}
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(v)
		w.Close()
		out = append(out, e.u32(miCOMPRESSED)...)
		out = append(out, e.u32(uint32(z.Len()))...)
		out = append(out, z.Bytes()...)
	}
	return out
}

// sample builds a file with a double matrix, a uint8-stored double (MATLAB's
// storage narrowing), a char row, a cell and a struct.
func sample(e enc, compress bool) []byte {
	cell := e.matrix(Cell, 0, []int{1, 2}, "c",
		e.matrix(Char, 0, []int{1, 2}, "", e.utf16("hi")),
		e.matrix(Double, 0, []int{1, 1}, "", e.doubles(9)),
	)
	fieldLen := 8
	names := make([]byte, 2*fieldLen)
	copy(names, "x")
	copy(names[fieldLen:], "label")
	st := e.matrix(Struct, 0, []int{1, 2}, "s",
		e.elem(miINT32, e.u32(uint32(fieldLen))),
		e.elem(miINT8, names),
		e.matrix(Double, 0, []int{1, 1}, "", e.doubles(1)),
		e.matrix(Char, 0, []int{1, 1}, "", e.utf16("a")),
		e.matrix(Double, 0, []int{1, 1}, "", e.doubles(2)),
		e.matrix(Char, 0, []int{1, 0}, ""),
	)
	return e.file(compress,
		e.matrix(Double, 0, []int{2, 2}, "m", e.doubles(1, 2, 3, 4)),
		e.matrix(Double, 0, []int{1, 3}, "narrow", e.elem(miUINT8, []byte{7, 8, 255})),
		e.matrix(Char, 0, []int{1, 3}, "txt", e.utf16("büs")),
		cell, st,
	)
}

func checkSample(t *testing.T, f *File) {
	t.Helper()
	if m := mustVar(t, f, "m"); !reflect.DeepEqual(m.Real, []float64{1, 2, 3, 4}) || !reflect.DeepEqual(m.Dims, []int{2, 2}) {
		t.Errorf("m = %v %v", m.Dims, m.Real)
	}
	if n := mustVar(t, f, "narrow"); n.Class != Double || !reflect.DeepEqual(n.Real, []float64{7, 8, 255}) {
		t.Errorf("narrow = %s %v", n.Class, n.Real)
	}
	if s, err := mustVar(t, f, "txt").String(); s != "büs" {
		t.Errorf("txt = %q %v", s, err)
	}
	c := mustVar(t, f, "c")
	if s, _ := c.Cells[0].String(); s != "hi" {
		t.Errorf("c{1} = %q", s)
	}
	if v, _ := c.Cells[1].Scalar(); v != 9 {
		t.Errorf("c{2} = %v", v)
	}
	s := mustVar(t, f, "s")
	if !reflect.DeepEqual(s.Fields, []string{"x", "label"}) {
		t.Fatalf("fields %q", s.Fields)
	}
	if v, _ := s.Field(1, "x").Scalar(); v != 2 {
		t.Errorf("s(2).x = %v", v)
	}
	if l, _ := s.Field(0, "label").String(); l != "a" {
		t.Errorf("s(1).label = %q", l)
	}
	if l, err := s.Field(1, "label").String(); l != "" || err != nil {
		t.Errorf("s(2).label = %q %v", l, err)
	}
}

func TestByteOrdersAndSmallElements(t *testing.T) {
	for _, o := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, small := range []bool{false, true} {
			for _, compress := range []bool{false, true} {
				e := enc{o: o, small: small}
				f, err := Decode(sample(e, compress))
				if err != nil {
					t.Fatalf("%v small=%v compress=%v: %v", o, small, compress, err)
				}
				if f.ByteOrder != o {
					t.Errorf("byte order %v, want %v", f.ByteOrder, o)
				}
				checkSample(t, f)
			}
		}
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	for _, name := range []string{"cars_train_annos.mat", "dogs_train_list.mat", "types.mat"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		// Every proper prefix that does not end on an element boundary must
		// fail; none may panic.
		failed := 0
		for n := 0; n < len(data); n++ {
			if _, err := Decode(data[:n]); err != nil {
				failed++
			}
		}
		if failed < len(data)*9/10 {
			t.Errorf("%s: only %d of %d truncations failed", name, failed, len(data))
		}
		if _, err := Decode(data[:len(data)-3]); err == nil {
			t.Errorf("%s: cutting the last 3 bytes was not an error", name)
		}
	}
}

func TestCorruptBytesNeverPanic(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "types.mat"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(data))
	for i := headerLen; i < len(data); i++ {
		for _, x := range []byte{0xFF, 0x80, 0x01} {
			copy(buf, data)
			buf[i] ^= x
			Decode(buf) // must not panic or hang
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e := enc{o: binary.LittleEndian}
	good := sample(e, true)
	badZ := append([]byte(nil), good...)
	badZ[headerLen+8+4] ^= 0xFF // inside the first zlib stream
	hdf := append([]byte("\x89HDF\r\n\x1a\n"), make([]byte, 200)...)
	v73 := e.header()
	copy(v73, "MATLAB 7.3 MAT-file")
	binary.LittleEndian.PutUint16(v73[124:], 0x0200)

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.mat", nil, "truncated"},
		{"short.mat", good[:100], "truncated"},
		{"noendian.mat", append(append([]byte(nil), good[:126]...), 'x', 'y'), "endian indicator"},
		{"v73.mat", v73, "v7.3"},
		{"hdf.mat", hdf, "HDF5"},
		{"cut.mat", good[:len(good)-10], "truncated"},
		{"badz.mat", badZ, "compressed element"},
		{"stray.mat", append(append([]byte(nil), good...), 1, 2, 3), "stray bytes"},
		{"text.mat", append([]byte("hello"), make([]byte, 200)...), "not a Level 5"},
	} {
		p := write(tc.name, tc.data)
		_, err := ReadFile(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the file and say %q", tc.name, err, tc.want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.mat")); err == nil || !strings.Contains(err.Error(), "missing.mat") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"types.mat", "types_z.mat", "cars_train_annos.mat", "dogs_train_list.mat", "skip.mat"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(sample(enc{o: binary.BigEndian, small: true}, false))
	f.Fuzz(func(t *testing.T, data []byte) {
		Decode(data) // must not panic, hang or allocate without bound
	})
}

func TestNonBMPCharacters(t *testing.T) {
	e := enc{o: binary.LittleEndian}
	const s = "a\U0001F600b" // one character outside the BMP
	units := []byte{'a', 0, 0x3D, 0xD8, 0x00, 0xDE, 'b', 0}
	data := e.file(false,
		// scipy: UTF-8 data, dims counting code points.
		e.matrix(Char, 0, []int{1, 3}, "scipy", e.elem(miUTF8, []byte(s))),
		// MATLAB counts UTF-16 code units: 4 elements.
		e.matrix(Char, 0, []int{1, 4}, "utf8units", e.elem(miUTF8, []byte(s))),
		e.matrix(Char, 0, []int{1, 4}, "utf16", e.elem(miUTF16, units)),
		e.matrix(Char, 0, []int{1, 5}, "bad", e.elem(miUTF8, []byte(s))),
	)
	_, err := Decode(data)
	if err == nil || !strings.Contains(err.Error(), "characters for 5 elements") {
		t.Errorf("count mismatch: %v", err)
	}
	f, err := Decode(data[:len(data)-len(e.matrix(Char, 0, []int{1, 5}, "bad", e.elem(miUTF8, []byte(s))))])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"scipy", "utf8units", "utf16"} {
		if got, err := mustVar(t, f, name).String(); got != s || err != nil {
			t.Errorf("%s = %q %v, want %q", name, got, err, s)
		}
	}
	if s, err := mustRead(t, "types.mat").Var("uni").String(); err != nil || s != "Zoë über 中文" {
		t.Errorf("uni %q %v", s, err)
	}
}

// Inflation is bounded by what each element declares and, over the whole
// file, by maxInflated; decoding by maxDecoded. Each 1 MiB matrix below
// compresses to about 1 KB.
func TestInflationLimits(t *testing.T) {
	e := enc{o: binary.LittleEndian}
	big := e.matrix(Double, 0, []int{1, 1 << 17}, "x", e.elem(miDOUBLE, make([]byte, 1<<20)))
	vars := make([][]byte, maxInflated/len(big)+1)
	for i := range vars {
		vars[i] = big
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(e.file(true, vars...))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "more than the 64 MiB a MAT-file may inflate to") {
		t.Errorf("%d compressed MiB matrices: %v", len(vars), err)
	}
	// Each inflated MiB is dropped once decoded; its values stay.
	if got := after.TotalAlloc - before.TotalAlloc; got > 512<<20 {
		t.Errorf("allocated %d MiB", got>>20)
	}

	// A stream that goes on past the element its tag declares.
	small := e.matrix(Double, 0, []int{1, 1}, "y", e.doubles(1))
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(small)
	w.Write(make([]byte, 1<<20))
	w.Close()
	data := append(e.header(), e.u32(miCOMPRESSED)...)
	data = append(append(data, e.u32(uint32(z.Len()))...), z.Bytes()...)
	if _, err := Decode(data); err == nil || !strings.Contains(err.Error(), "inflates past the") {
		t.Errorf("overrunning stream: %v", err)
	}

	// Uncompressed, arrays are bounded too: 1 MiB of empty cell elements
	// decodes to an Array each.
	d := &decoder{order: binary.LittleEndian, decodeLeft: 1 << 20}
	cells := e.matrix(Cell, 0, []int{1, 1 << 17}, "c", bytes.Repeat(e.elem(miMATRIX, nil), 1<<17))
	if _, err := d.matrix(cells[8:]); err == nil || !strings.Contains(err.Error(), "decodes to more than") {
		t.Errorf("131072 empty cells with a 1 MiB budget: %v", err)
	}
}
